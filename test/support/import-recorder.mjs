/**
 * `node --import=<this file>` records every module the process imports: each resolved URL is
 * appended, one a line, to the file named by KUBEWIRE_IMPORT_LOG. The hooks run on Node's
 * loader thread, so they are registered from here and write synchronously, which keeps the
 * record complete even when the process exits at once.
 */
import { register } from 'node:module';

const file = process.env.KUBEWIRE_IMPORT_LOG;
if (file) register('./import-recorder-hooks.mjs', import.meta.url, { data: { file } });
