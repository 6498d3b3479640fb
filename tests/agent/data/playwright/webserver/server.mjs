// The project's web server: says which port and which Drover worker it serves.
import http from 'node:http';

const port = Number(process.env.PORT || 3000);
http
  .createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ port, shard: process.env.DROVER_SHARD ?? null }));
  })
  .listen(port, '127.0.0.1');
