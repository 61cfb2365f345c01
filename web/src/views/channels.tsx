/**
 * Team channels: create, subscribe agents, and a live feed with its history. People post as
 * themselves (or, when they choose, as an agent they may act for); each post says who wrote it.
 */
import type { Agent, Channel, ChannelMessage } from "agenthub/client";
import { useEffect, useRef, useState } from "preact/hooks";
import { describe, type Hub } from "../hub.js";
import { go } from "../router.js";
import { ErrorNote } from "./error-note.js";
import { Markdown } from "./markdown.js";

export function ChannelForm({ hub, onCreated }: { hub: Hub; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | undefined>();
  return (
    <form
      class="panel form"
      aria-label="Create a channel"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          const ch = await hub.rest.channels.create({ name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) });
          onCreated();
          go({ view: "channel", channelId: ch.id });
        } catch (err) {
          setError(describe(err));
        }
      }}
    >
      <label>
        Name
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required maxLength={100} />
      </label>
      <label>
        Description
        <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} maxLength={2000} />
      </label>
      <ErrorNote error={error} />
      <button type="submit" class="primary">
        Create channel
      </button>
    </form>
  );
}

export function ChannelView({ hub, channelId, agents }: { hub: Hub; channelId: string; agents: Agent[] }) {
  const [channel, setChannel] = useState<Channel | undefined>();
  const [messages, setMessages] = useState<ChannelMessage[]>([]);
  const [agent, setAgent] = useState("");
  /** "" posts as the person; otherwise the agent to post as. */
  const [postAs, setPostAs] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState<string | undefined>();
  const bottom = useRef<HTMLDivElement>(null);
  const names = new Map(agents.map((a) => [a.id, a.name]));

  const merge = (incoming: ChannelMessage[]) =>
    setMessages((current) => {
      const bySeq = new Map(current.map((m) => [m.seq, m]));
      for (const m of incoming) bySeq.set(m.seq, m);
      return [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-500);
    });

  useEffect(() => {
    let stopped = false;
    setMessages([]);
    const offs = [
      hub.live.on("channel:message", (m) => m.channelId === channelId && merge([m])),
      // Subscriptions changed elsewhere (another person, another node): show the current list.
      hub.live.on("channel:updated", (e) => {
        if (e.channelId !== channelId) return;
        if (e.action === "deleted") setError("This channel was deleted.");
        else void hub.rest.channels.get(channelId).then((ch) => !stopped && setChannel(ch), () => undefined);
      }),
    ];
    (async () => {
      try {
        const ch = await hub.rest.channels.get(channelId);
        if (stopped) return;
        setChannel(ch);
        const since = Math.max(0, ch.messageCount - 100);
        // History, then live from its end: the watch replays anything that came in between.
        await hub.live.watchChannel(channelId, { since });
      } catch (err) {
        if (!stopped) setError(describe(err));
      }
    })();
    return () => {
      stopped = true;
      // Still watched after leaving it: the sidebar marks the channel unread when someone posts.
      offs.forEach((off) => off());
    };
  }, [channelId]);

  useEffect(() => bottom.current?.scrollIntoView({ block: "end" }), [messages.length]);

  const subscribed = new Set(channel?.subscribers ?? []);
  const act = (fn: () => Promise<Channel | void>) => async () => {
    setError(undefined);
    try {
      const ch = await fn();
      if (ch) setChannel(ch);
    } catch (err) {
      setError(describe(err));
    }
  };

  return (
    <section class="channel" aria-labelledby="channel-title">
      <header class="view-header">
        <h2 id="channel-title"># {channel?.name ?? "…"}</h2>
        <p class="muted">{channel?.description}</p>
      </header>
      <ErrorNote error={error} />
      <div class="panel">
        <h3>Subscribed agents</h3>
        <ul class="list">
          {[...subscribed].map((id) => (
            <li key={id}>
              {names.get(id) ?? id}{" "}
              <button type="button" onClick={act(() => hub.rest.channels.unsubscribe(channelId, id))}>
                Unsubscribe
              </button>
            </li>
          ))}
        </ul>
        <form class="inline" onSubmit={(e) => (e.preventDefault(), agent && void act(() => hub.rest.channels.subscribe(channelId, agent))())}>
          <label for="channel-agent">Agent</label>
          <select id="channel-agent" value={agent} onChange={(e) => setAgent(e.currentTarget.value)}>
              <option value="">Choose an agent</option>
              {agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
          </select>
          <button type="submit" disabled={!agent}>
            Subscribe
          </button>
        </form>
      </div>
      <div class="messages feed" role="log" aria-live="polite" aria-label="Channel messages">
        {messages.map((m) => (
          <article class="channel-message" key={m.seq} data-seq={m.seq}>
            <header>
              <span class="who">{authorOf(m, names)}</span>
              <time dateTime={m.createdAt}>{new Date(m.createdAt).toLocaleTimeString()}</time>
            </header>
            <Markdown text={m.message} />
          </article>
        ))}
        <div ref={bottom} />
      </div>
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          if (!text.trim()) return setError("Write a message to post");
          void act(async () => {
            await hub.rest.channels.publish(channelId, { ...(postAs ? { agentId: postAs } : {}), message: text.trim() });
            setText("");
          })();
        }}
      >
        <label class="message-input">
          <span class="sr-only">{postAs ? `Post to the channel as ${names.get(postAs) ?? postAs}` : "Post to the channel as yourself"}</span>
          <textarea
            rows={2}
            value={text}
            placeholder={postAs ? `Post as ${names.get(postAs) ?? postAs}` : "Post as yourself"}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault();
                e.currentTarget.form?.requestSubmit();
              }
            }}
          />
        </label>
        <div class="composer-buttons">
          <label>
            <span class="sr-only">Post as</span>
            <select value={postAs} onChange={(e) => setPostAs(e.currentTarget.value)} aria-label="Post as">
              <option value="">Yourself ({hub.me.kind === "user" ? hub.me.name || hub.me.email : "you"})</option>
              {agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name} (agent)
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="primary">
            Post
          </button>
        </div>
      </form>
    </section>
  );
}

/** Who wrote a post: the agent it was posted as, or the person who posted as themselves. */
function authorOf(m: ChannelMessage, agentNames: Map<string, string>): string {
  if (m.agentId !== null) return agentNames.get(m.agentId) ?? m.agentId;
  return m.userName || "Someone";
}
