// Channel names in URLs are checked before anything else sees them, with Fabric's rule
// (common/configtx ValidateChannelID: [a-z][a-z0-9.-]*, at most 249 characters).
import { isValidChannelId } from '../ledger/index.js';

const maxChannelNameLength = 249;

/** Why `name` is not a valid channel name, or undefined when it is. */
export function channelNameProblem(name: string): string | undefined {
  if (isValidChannelId(name)) return undefined;
  if (name.length === 0) return 'invalid channel ID: it cannot be empty';
  if (name.length > maxChannelNameLength) {
    return `invalid channel ID: it is ${name.length} characters long, the limit is ${maxChannelNameLength}`;
  }
  return `invalid channel ID '${name}': it contains illegal characters (a channel ID starts with a lowercase letter followed by lowercase letters, digits, '.' or '-')`;
}
