// Channel participation API: the admin HTTP(S) server and its REST handler (spec §6).
export { AdminServer, adminServerOptions } from './server.js';
export type { AdminServerOptions, AdminServerDeps, AdminTlsOptions } from './server.js';
export {
  ParticipationHandler,
  validateJoinBlock,
  channelUrl,
  URL_BASE_V1,
  URL_BASE_V1_CHANNELS,
} from './handler.js';
export type {
  ChannelParticipationRegistrar,
  ChannelInfoShort,
  ChannelList,
  ChannelInfoResponse,
  ParticipationHandlerOptions,
  ParticipationHandlerDeps,
} from './handler.js';
export {
  CONFIG_BLOCK_FORM_KEY,
  configBlockFromForm,
  configBlockPart,
  formDataBoundary,
  parseMultipartFormData,
  parseHeaderWithParams,
} from './multipart.js';
export type { FormPart, MediaType } from './multipart.js';
export { channelNameProblem } from './channelname.js';
export { httpStatusOf } from './status.js';
