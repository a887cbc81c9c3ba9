/**
 * Thrown when an input to the learning core breaks a rule. `field` names the input (a dotted path, with an
 * index where the problem is in an array) and the message says which rule it broke, so the HTTP and Kafka
 * boundaries can turn it into a 4xx or a dead-letter reason without parsing text.
 */
export class ModelInputError extends Error {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
    this.name = 'ModelInputError';
  }
}

/** Thrown when a serialised model cannot be read (not a model, wrong or unsupported format version, truncated). */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}
