// The lint and format rules live in tools/eslint (its own node_modules: see the comment there).
export { default } from './tools/eslint/config.js'
