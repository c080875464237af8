// `node --import ./register-hook.mjs ...`: lets Node load wukongimjssdk@1.0.4 (see esm-ext-hook.mjs).
import { register } from 'node:module';
register('./esm-ext-hook.mjs', import.meta.url);
