/** Schemas of the local family (embedded only): what the `agenthub` CLI sends to a running hub, and the web app's local sign-in. */
import { z } from "zod";
import { Title } from "../../../schemas.js";

export const LocalWorkspace = z.object({ name: z.string().trim().min(1) });
/** The web app's local sign-in (embedded default, loopback only): an existing user by `sub`, or a new one by name and email. */
export const LocalSignIn = z.union(
  [
    z.strictObject({ workspace_id: z.string().min(1).max(100).optional(), sub: z.string().min(1).max(200) }),
    z.strictObject({
      workspace_id: z.string().min(1).max(100).optional(),
      name: Title,
      email: z.string().trim().max(320).regex(/^[^\s@]+@[^\s@]+$/, "must be an email address"),
    }),
  ],
  { message: "send {sub} to sign in as a user of the workspace, or {name, email} to create one" },
);
/** What `agenthub token` sends: the same claims its flags take. */
export const LocalToken = z.object({
  workspace: z.string().min(1),
  sub: z.string().min(1),
  email: z.string().min(1),
  name: z.string().optional(),
  groups: z.array(z.string()).optional(),
  role: z.string().optional(),
  ttlSeconds: z.number().int().positive(),
});
/** What `agenthub workspace rotate-key` sends to a running embedded hub. */
export const LocalRotateKey = z.object({ workspace_id: z.string().min(1) });
