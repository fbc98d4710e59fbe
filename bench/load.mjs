// The load generator, in its own process (pinned to its own CPU by run.mjs), driven over IPC:
//
//   {type:'run', port, route, connections, pipelining}  open N keep-alive connections and keep
//                                                       `pipelining` requests in flight on each;
//                                                       answers {type:'connected'} once every connection
//                                                       has had a response (steady state can begin)
//   {type:'mark', on}                                   record latencies only while on (the window)
//   {type:'pause'}                                      send no more requests; answers {type:'paused'} once
//                                                       none is in flight (the server is idle)
//   {type:'resume'}                                     send `pipelining` requests on each connection again
//   {type:'end'}                                        stop, let in-flight requests finish, answer
//                                                       {type:'done', total, errors, non2xx, p50Ms, p99Ms}
//
// A minimal HTTP/1.1 client on raw sockets rather than autocannon or undici; bench/README.md says why
// (every request gets a fresh id, so a route-name cache meets real traffic, not a loop of a few hundred
// URLs; and the client costs little enough CPU to load the server from one core). It understands exactly
// what the bench servers send: a status line, headers with Content-Length, a body of that length.
// Anything else (chunked encoding, a missing length) is counted as an error and fails the run.
import net from 'node:net'
import { requestFactory } from './paths.mjs'

const CRLFCRLF = Buffer.from('\r\n\r\n')
const PRIME = 'GET /__bench_prime HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' // a 404 on every bench server
let current = null

function percentile(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

function start({ port, route, connections, pipelining }) {
  const nextRequest = requestFactory(route)
  const run = {
    running: true,
    /** Paused by {type:'pause'}: responses are read, nothing more is sent. */
    paused: false,
    recording: false,
    latencies: new Float64Array(1 << 16),
    n: 0,
    total: 0,
    errors: 0,
    non2xx: 0,
    firstError: null,
    sockets: [],
    inFlight: 0,
    onIdle: null,
    answered: 0, // connections that have had at least one response
    primed: 0, // connections whose priming request has been answered
    starters: [],
  }

  function record(ms) {
    if (run.n === run.latencies.length) {
      const bigger = new Float64Array(run.latencies.length * 2)
      bigger.set(run.latencies)
      run.latencies = bigger
    }
    run.latencies[run.n++] = ms
  }

  function fail(err) {
    run.errors++
    run.firstError ??= err.message
  }

  for (let i = 0; i < connections; i++) {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    // Send times of in-flight requests, oldest first (responses come back in order).
    const sent = []
    let head = 0
    let pending = null // unparsed bytes carried over from the previous chunk
    let bodyLeft = 0 // body bytes of the current response still to skip
    let first = true

    const send = (count) => {
      let text = ''
      const now = performance.now()
      for (let k = 0; k < count; k++) {
        text += nextRequest()
        sent.push(now)
      }
      run.inFlight += count
      socket.write(text)
    }

    // Prime every connection before any load: a busy node:http server takes in about one new connection
    // per event-loop turn, and on the cpu route a turn serves every connection already in (measured: the
    // 64th connection got its first response 2 s after the first). A cheap 404 per connection while the
    // server is idle gets them all in within milliseconds; then the real requests start on all at once.
    let priming = true
    socket.on('connect', () => socket.write(PRIME))
    run.starters.push(() => send(pipelining))
    socket.on('error', fail)
    socket.on('close', () => {
      const lost = sent.length - head
      if (lost > 0) {
        run.inFlight -= lost
        if (run.running) fail(new Error(`connection closed with ${lost} requests in flight`))
        head = sent.length
      }
      if (run.inFlight === 0 && run.onIdle) run.onIdle()
    })
    socket.on('data', (chunk) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk
      pending = null
      let at = 0
      let completed = 0
      while (at < buf.length) {
        if (bodyLeft > 0) {
          const take = Math.min(bodyLeft, buf.length - at)
          bodyLeft -= take
          at += take
          if (bodyLeft > 0) break
          completed++
          continue
        }
        const end = buf.indexOf(CRLFCRLF, at)
        if (end === -1) { pending = buf.subarray(at); break }
        const headers = buf.latin1Slice(at, end).toLowerCase()
        const status = Number(headers.slice(9, 12))
        if (!priming && (status < 200 || status > 299)) run.non2xx++
        const cl = headers.indexOf('\r\ncontent-length:')
        if (cl === -1) {
          fail(new Error(`response without Content-Length: ${JSON.stringify(headers.slice(0, 200))}`))
          socket.destroy()
          return
        }
        let eol = headers.indexOf('\r\n', cl + 2)
        if (eol === -1) eol = headers.length
        bodyLeft = parseInt(headers.slice(cl + 17, eol), 10)
        at = end + 4
        if (bodyLeft === 0) completed++
      }
      if (priming && completed > 0) {
        priming = false
        completed--
        if (++run.primed === connections) for (const go of run.starters) go()
      }
      if (completed === 0) return
      if (first) {
        first = false
        // The window must not open before every connection is in play.
        if (++run.answered === connections) process.send({ type: 'connected' })
      }
      const now = performance.now()
      for (let k = 0; k < completed; k++) {
        const t = sent[head++]
        if (run.recording) record(now - t)
      }
      if (head > 4096) { sent.splice(0, head); head = 0 }
      run.total += completed
      run.inFlight -= completed
      if (run.running && !run.paused) send(completed)
      else if (run.inFlight === 0 && run.onIdle) run.onIdle()
    })
    run.sockets.push(socket)
  }
  return run
}

function finish(run) {
  run.running = false
  run.recording = false
  const report = () => {
    for (const s of run.sockets) s.destroy()
    const lat = run.latencies.subarray(0, run.n).sort()
    process.send({
      type: 'done',
      total: run.total,
      errors: run.errors,
      firstError: run.firstError,
      non2xx: run.non2xx,
      inWindow: run.n,
      p50Ms: percentile(lat, 0.5),
      p99Ms: percentile(lat, 0.99),
    })
  }
  // Let in-flight requests complete so the server is idle before the next contender runs.
  let reported = false
  const once = () => { if (!reported) { reported = true; clearTimeout(timer); report() } }
  const timer = setTimeout(once, 5000)
  run.onIdle = once
  if (run.inFlight <= 0) once()
}

process.on('message', (msg) => {
  switch (msg.type) {
    case 'run':
      current = start(msg)
      return
    case 'mark':
      if (current) current.recording = msg.on
      return
    case 'pause': {
      const run = current
      if (!run) return process.send({ type: 'paused', error: 'no run in progress' })
      run.paused = true
      run.onIdle = () => { run.onIdle = null; process.send({ type: 'paused' }) }
      if (run.inFlight === 0) run.onIdle()
      return
    }
    case 'resume':
      if (current?.paused) {
        current.paused = false
        for (const go of current.starters) go()
      }
      return
    case 'end': {
      const run = current
      current = null
      if (run) finish(run)
      else process.send({ type: 'done', error: 'no run in progress' })
    }
  }
})

// Like server.mjs: a load generator whose parent died without ending it stops, instead of loading a server forever.
process.on('disconnect', () => process.exit(0))

process.send({ type: 'ready' })
