/** A deploy step that failed for a reason the operator can act on; the CLI prints it and exits 1. */
export class DeployError extends Error {
  override readonly name = 'DeployError';
}
