/** The error every client call throws for a refusal: the hub's problem+json (REST) or ack problem (sockets). */
import type { AckProblem } from "./types.js";

export class AgentHubError extends Error {
  override readonly name = "AgentHubError";
  /** HTTP status (also for socket acks, which carry the same problem). */
  readonly status: number;
  /** A URN such as `urn:agenthub:problem:validation`. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** 422: each bad field. */
  readonly errors: Array<{ field: string; message: string }> | undefined;
  /** The whole problem as the hub sent it (extra members included). */
  readonly problem: AckProblem & Record<string, unknown>;
  /** `Retry-After` in seconds, on 429 and 503. */
  readonly retryAfter: number | undefined;

  constructor(problem: AckProblem & Record<string, unknown>, retryAfter?: number) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
    this.problem = problem;
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors : undefined;
    this.retryAfter = retryAfter;
  }

  /** A problem from anything an answer carried (a body that is not a problem gets one made up). */
  static from(status: number, body: unknown, retryAfter?: number): AgentHubError {
    const b = body && typeof body === "object" ? (body as Record<string, unknown>) : {};
    return new AgentHubError(
      {
        ...b,
        type: typeof b.type === "string" ? b.type : `urn:agenthub:problem:http-${status}`,
        title: typeof b.title === "string" ? b.title : `HTTP ${status}`,
        status: typeof b.status === "number" ? b.status : status,
        detail: typeof b.detail === "string" ? b.detail : typeof body === "string" ? body.slice(0, 500) : "",
      },
      retryAfter,
    );
  }
}
