// tests/matrix/counter.js PORT: an ordinary node HTTP server (node's own
// http module) on 127.0.0.1:PORT that keeps a counter in memory: every
// request gets the next number. tests/matrix.sh checks from outside that the
// number goes on (N before a checkpoint or migration, N+1 after) and that
// the timer it also runs keeps ticking.
'use strict';
const http = require('http');
const port = Number(process.argv[2]);
let n = 0;
let ticks = 0;
setInterval(() => { ticks++; }, 50);
http.createServer((req, res) => {
	n++;
	res.writeHead(200, { 'Content-Type': 'text/plain', 'Connection': 'close' });
	res.end(`count ${n} ticks ${ticks} pid ${process.pid}\n`);
}).listen(port, '127.0.0.1');
