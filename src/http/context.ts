/** The typed Koa state shared by every route: who is asking, and a logger bound to the request. */
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.js";

export interface HubState {
  log: Logger;
  requestId: string;
  principal: Principal;
}
