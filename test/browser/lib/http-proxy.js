// An HTTP proxy in front of chatgate that refuses websocket upgrades, as some corporate
// proxies do: plain requests (long-polling, REST, the page, the widget) pass, an Upgrade
// request is answered 403 and closed.

import http from "node:http";

export class NoWebSocketProxy {
  static async start(targetAddr) {
    const p = new NoWebSocketProxy();
    const [host, port] = [targetAddr.slice(0, targetAddr.lastIndexOf(":")), Number(targetAddr.slice(targetAddr.lastIndexOf(":") + 1))];
    p.upgradesRefused = 0;
    p.server = http.createServer((req, res) => {
      const up = http.request({ host, port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    p.server.on("upgrade", (req, socket) => {
      p.upgradesRefused++;
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    await new Promise((resolve, reject) => {
      p.server.once("error", reject);
      p.server.listen(0, "127.0.0.1", resolve);
    });
    return p;
  }

  get url() { return `http://127.0.0.1:${this.server.address().port}`; }

  close() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }
}
