/** A problem with an input file the user named (missing, unreadable, wrong shape): shown as one line, no stack. */
export class InputFileError extends Error {
  override name = 'InputFileError';
}
