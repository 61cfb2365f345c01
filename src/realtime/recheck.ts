/**
 * A bounded age for the access live sockets hold. Revocations, team and group changes reach
 * sockets as events through Redis; a node that missed one (its subscriber was reconnecting) or a
 * socket that joined rooms from a lookup made just before a change would keep access it lost.
 * So every socket's credential and memberships are checked against Postgres again: right after
 * it joined its rooms, and every RECHECK_MS after that, in batches (one query per kind of fact
 * per workspace or agent, not per socket).
 */
import type { Logger } from "pino";
import { keyIdOf, type UserPrincipal } from "../auth/principal.js";
import { subscriptionsReceivedBy } from "../domain/channels/policy.js";
import type { ChannelHead } from "../domain/channels/repository.js";
import { belongsToGroup } from "../domain/groups/policy.js";
import type { Services } from "../services.js";
import type { Delivery } from "./delivery.js";
import type { HubSocket } from "./protocol.js";
import { rooms } from "./rooms.js";
import { closeSocket } from "./sockets.js";

/** The longest a socket keeps access it lost when the event telling its node was missed. */
export const RECHECK_MS = 30_000;
/** Sockets re-checked between two turns of the event loop. */
const BATCH = 500;

export type RecheckDomain = {
  liveKeyIds: Services["liveKeyIds"];
  groups: Pick<Services["groups"], "rulesFor">;
  channels: Pick<Services["channels"], "subscribedHeads">;
};

export class AccessRecheck {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly sockets: () => Iterable<HubSocket>,
    private readonly domain: RecheckDomain,
    private readonly delivery: Pick<Delivery, "joinChannels" | "leaveSubscribed" | "recheckSessions" | "streams">,
    private readonly log: Logger,
  ) {}

  start(intervalMs = RECHECK_MS): void {
    this.timer = setInterval(() => void this.sweep(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Re-checks every socket of this node (at most one sweep at a time). */
  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const all = [...this.sockets()];
      for (let i = 0; i < all.length; i += BATCH) {
        await this.check(all.slice(i, i + BATCH).filter((s) => s.connected));
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.log.warn({ err }, "could not re-check live sockets' access; will try again");
    } finally {
      this.running = false;
    }
  }

  /** Re-checks these sockets: credentials, group rooms, subscribed channels, watched sessions. */
  async check(sockets: HubSocket[]): Promise<void> {
    const live = await this.domain.liveKeyIds(sockets.map((s) => keyIdOf(s.data.principal)).filter((id): id is string => !!id));
    const kept = sockets.filter((s) => {
      const keyId = keyIdOf(s.data.principal);
      if (!keyId || live.has(keyId)) return true;
      closeSocket(s, "key revoked");
      return false;
    });
    await this.followGroups(kept.filter((s) => s.data.principal.kind === "user"));
    await this.followSubscriptions(kept);
    await this.delivery.recheckSessions(kept);
  }

  /**
   * One query per workspace reads the groups that could admit any of these users (not every
   * group of it); each socket is in exactly the rooms of those it belongs to, and leaves any
   * other group room (a group it left, or one deleted meanwhile).
   */
  private async followGroups(users: HubSocket[]): Promise<void> {
    for (const [workspaceId, members] of groupBy(users, (s) => s.data.principal.workspaceId)) {
      const rules = await this.domain.groups.rulesFor(workspaceId, members.map((s) => s.data.principal as UserPrincipal));
      const left: HubSocket[] = [];
      for (const s of members) {
        const belongs = new Set(rules.filter((g) => belongsToGroup(s.data.principal, g)).map((g) => rooms.group(g.id)));
        for (const room of belongs) s.join(room);
        for (const room of s.rooms) {
          if (room.startsWith(rooms.group("")) && !belongs.has(room)) {
            s.leave(room);
            left.push(s);
          }
        }
      }
      if (left.length) await this.delivery.recheckSessions([...new Set(left)]);
    }
  }

  private async followSubscriptions(sockets: HubSocket[]): Promise<void> {
    const byAgent = groupBy(
      sockets.filter((s) => subscriptionsReceivedBy(s.data.principal)),
      (s) => `${s.data.principal.workspaceId}/${subscriptionsReceivedBy(s.data.principal)}`,
    );
    for (const members of byAgent.values()) {
      const heads: ChannelHead[] = await this.domain.channels.subscribedHeads(members[0]!.data.principal);
      const subscribed = new Set(heads.map((h) => h.id));
      for (const s of members) {
        const receiving = new Set(this.delivery.streams.list(s, "channel").map((c) => c.id));
        this.delivery.joinChannels(s, heads.filter((h) => !receiving.has(h.id)));
        for (const id of receiving) if (!subscribed.has(id)) this.delivery.leaveSubscribed(s, id);
      }
    }
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}
