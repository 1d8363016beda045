/** Writing an output file the user named: a failure is the user's to fix, said plainly. */
import { UserError } from '../util/errors.ts';

/** Runs `write`; a filesystem error (missing directory, permissions) becomes a UserError. */
export async function writeOutput(file: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new UserError(`cannot write ${file} (${code}); check that its directory exists and is writable`);
    throw err;
  }
}
