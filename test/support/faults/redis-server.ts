/**
 * A private Redis for fault tests: a `redis-server` child process of this test file on a free
 * port, with no persistence, which the test may stop and start again (on the same port). It
 * never touches the machine's Redis.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { freePort } from "./net.js";

export interface PrivateRedis {
  port: number;
  url: string;
  readonly running: boolean;
  /** Starts (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM; SIGKILL after 3 s) and waits for it to exit. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill("SIGKILL");
  process.once("exit", killOnExit);

  const start = async () => {
    if (child) return;
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"];
    const proc = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    const output: string[] = [];
    proc.stderr!.on("data", (d) => output.push(String(d)));
    proc.once("exit", () => {
      if (child === proc) child = undefined;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output.join("\n")}`)), START_TIMEOUT_MS);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output.join("\n")}`));
      });
      createInterface({ input: proc.stdout! }).on("line", (line) => {
        if (output.length < 100) output.push(line);
        if (/ready to accept connections/i.test(line)) {
          clearTimeout(timer);
          resolve();
        }
      });
    }).catch((err) => {
      proc.kill("SIGKILL");
      throw err;
    });
  };

  const stop = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    start,
    stop,
  };
}
