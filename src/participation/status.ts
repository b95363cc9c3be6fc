// HTTP statuses for the channel participation API come from the project's one mapping.
export { httpStatusOf } from '../status.js';
