/**
 * One protocol peer of the protocols scenario in a process of its own (bench/peers.ts), so that
 * its work (an A2A server, the ADK runner) runs beside neither the hub nor the watcher. Started by
 * bench/protocols.ts with PEER_NAME, PEER_HUB, PEER_PLAN (JSON) and, for socket mode, PEER_KEY;
 * prints one line `PEER_READY <endpoint JSON>` once it answers, and stops on SIGTERM.
 */
import { PEERS, type PeerName, type PeerPlan } from "./peers.js";

const name = process.env.PEER_NAME as PeerName;
const plan = JSON.parse(process.env.PEER_PLAN ?? "{}") as PeerPlan;
const peer = await PEERS[name]({ hubUrl: process.env.PEER_HUB!, plan, key: process.env.PEER_KEY });
process.stdout.write(`PEER_READY ${JSON.stringify(peer.endpoint ?? null)}\n`);
process.once("SIGTERM", () => {
  void peer.close().finally(() => process.exit(0));
});
