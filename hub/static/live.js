/**
 * The live event stream (/ws): conversation:new_reply, :ai_ready, :sent, :error. The API key
 * travels as the subprotocol `bearer.<key>` (a browser cannot set headers on a WebSocket, and
 * a query string would put the key in URLs and logs); the hub answers with `replydesk`.
 * Reconnects with exponential backoff and jitter; after each (re)connection the caller gets a
 * "connected" event, so it can reload whatever it may have missed while disconnected.
 */

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

/** Delay before reconnection attempt `attempt` (0-based): 1 s, 2 s, 4 s … 30 s, with jitter. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** The WebSocket URL for this page's origin. */
export function socketUrl(location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** The subprotocols to offer: the hub's own, and the key. */
export function socketProtocols(key) {
  return ["replydesk", `bearer.${key}`];
}

/**
 * Connect and keep connected until `close()`.
 * @param {{url: string, protocols: string[], onEvent: (event: object) => void,
 *          onState: (state: "connecting"|"live"|"reconnecting") => void}} options
 * @returns {{close: () => void}}
 */
export function connectLive({ url, protocols, onEvent, onState }) {
  let socket = null;
  let timer = null;
  let attempt = 0;
  let closed = false;

  const schedule = () => {
    if (closed) return;
    onState("reconnecting");
    timer = setTimeout(open, backoffDelay(attempt));
    attempt += 1;
  };

  const receive = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.type === "connected") {
      attempt = 0;
      onState("live");
    }
    onEvent(event);
  };

  function open() {
    timer = null;
    onState(attempt === 0 ? "connecting" : "reconnecting");
    socket = new WebSocket(url, protocols);
    socket.addEventListener("message", receive);
    socket.addEventListener("close", schedule);
  }

  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
  };
}
