// Preloaded (--require) into a child that runs a README snippet as written: its `.listen(3000)` (or, as
// Fastify calls it, `.listen({ port: 3000 })`) listens on a free port instead, and the port is printed as
// `listening <port>` so the test can send requests.
const net = require('node:net')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (args[0] === 3000) args[0] = 0
  else if (typeof args[0] === 'object' && args[0] !== null && args[0].port === 3000) args[0] = { ...args[0], port: 0 }
  this.once('listening', () => process.stdout.write(`listening ${this.address().port}\n`))
  return listen.apply(this, args)
}
