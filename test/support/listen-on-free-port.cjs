// Preloaded (--require) into a child that runs a README snippet as written: its `.listen(3000)` listens on a
// free port instead, and the port is printed as `listening <port>` so the test can send requests.
const net = require('node:net')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (args[0] === 3000) args[0] = 0
  this.once('listening', () => process.stdout.write(`listening ${this.address().port}\n`))
  return listen.apply(this, args)
}
