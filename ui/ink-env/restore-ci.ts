/** Puts back what `hide-ci.ts` hid, once Ink has loaded. */
import { saved } from './hide-ci.js';

for (const [key, value] of Object.entries(saved)) {
  if (value !== undefined) process.env[key] = value;
}
