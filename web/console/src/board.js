// liveBoard keeps the supervisor's wall board live over CometD: it handshakes (ext() is
// the handshake's authentication, added to every handshake, also the client's own
// re-handshakes), subscribes to /agent/{id}/board on every new session and hands each
// board to onBoard: a "snapshot" after each subscribe (the whole board and the chart's last
// hour), then "update"s, at most one a second, each the whole board again
// (docs/agent-api.md, "The supervisor's wall board"). onState says "live" once a board
// arrived and "down" when the connection has been lost or refused for a while (DOWN_AFTER),
// so the page can fall back to polling the REST lists; unauthorized() is called when a handshake is refused with 401.

import { CometD } from "cometd";

const START = 5000; // ms for the first board before the page falls back to polling
const DOWN_AFTER = 2000; // ms after a failure without a board before it does

export function liveBoard({ id, ext, onBoard, onState, unauthorized }) {
  const c = new CometD();
  c.configure({ url: `${location.origin}/genesys/cometd`, logLevel: "warn", backoffIncrement: 500, maxBackoff: 5000 });
  c.registerExtension("chatgate-board", { outgoing: (m) => {
    if (m.channel === "/meta/handshake") m.ext = { ...(m.ext || {}), ...ext() };
    return m;
  } });
  let state = "";
  let timer = 0;
  const set = (s) => {
    if (s !== state) {
      state = s;
      onState(s);
    }
  };
  // A failure says "down" only when no board came within DOWN_AFTER: the client's own
  // recovery (a websocket refused by a proxy falls back to long-polling, a reconnect after a
  // blip) takes a moment and should not start the page's polling. START is the same for
  // the first board.
  const downSoon = (ms) => {
    if (!timer) timer = setTimeout(() => { timer = 0; set("down"); }, ms);
  };
  downSoon(START);
  c.addListener("/meta/handshake", (m) => {
    if (!m.successful) {
      downSoon(DOWN_AFTER);
      if (/401/.test(String(m.error || ""))) unauthorized();
      return;
    }
    // A new session has no subscriptions; the snapshot that answers this one says "live".
    // Every board is whole, so any board (also the first after a connection came back on
    // the same session: a chart sample makes one at least every 10 s) repairs the page.
    c.clearSubscriptions();
    c.subscribe(`/agent/${id}/board`, (msg) => {
      clearTimeout(timer);
      timer = 0;
      set("live");
      onBoard(msg.data);
    }, (reply) => {
      if (!reply.successful) downSoon(DOWN_AFTER);
    });
  });
  c.addListener("/meta/connect", (m) => {
    if (!m.successful && !c.isDisconnected()) downSoon(DOWN_AFTER);
  });
  c.handshake();
  return {
    stop: () => {
      clearTimeout(timer);
      timer = 0;
      c.disconnect();
    },
  };
}
