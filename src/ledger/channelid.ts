// Channel IDs name folders, so they are checked before any path is built from them, with Fabric's
// own rule (common/configtx/validator.go, ValidateChannelID).
import { badRequest } from '../errors.js';

const channelIdPattern = /^[a-z][a-z0-9.-]*$/;
const maxChannelIdLength = 249;

export function isValidChannelId(channelId: string): boolean {
  return channelId.length > 0 && channelId.length <= maxChannelIdLength && channelIdPattern.test(channelId);
}

export function assertValidChannelId(channelId: string): void {
  if (!isValidChannelId(channelId)) {
    throw badRequest(
      `invalid channel ID '${channelId}': it must be 1-${maxChannelIdLength} characters, start with a lowercase ` +
        'letter and contain only lowercase letters, digits, dots and dashes',
      { channelId },
    );
  }
}
