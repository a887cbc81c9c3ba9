/**
 * Thrown when a policy config or a slate request breaks a rule. `field` names the input (dotted path,
 * with an index for arrays) and `rule` the rule it broke, so the HTTP layer can answer 400/422 without
 * parsing text.
 */
export class PolicyInputError extends Error {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
    this.name = 'PolicyInputError';
  }
}

/**
 * Thrown when a request is well formed but nothing can be served: an empty catalogue, or every
 * candidate inactive or excluded (the HTTP layer answers 409/422).
 */
export class NoCandidatesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoCandidatesError';
  }
}
