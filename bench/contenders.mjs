// Every server the bench runs, in table order. `base` is the contender whose CPU per request is
// subtracted to get "added"; a base is its own base. `needs` says which external receiver the orchestrator
// must provide (a UDP socket counting StatsD packets, or the bench's own redis-server) and check.

export const CONTENDERS = [
  { name: 'bare', base: 'bare', module: 'bare.mjs', options: {} },
  // A control, only when asked: bare with the library imported and unused (contenders/bare.mjs).
  { name: 'bare-loaded', base: 'bare', module: 'bare.mjs', options: { loadLibrary: true }, onlyWhenAsked: true },
  // Another, only when asked: bare plus two process.cpuUsage() calls a request, what the floor's system calls cost.
  { name: 'bare-syscalls', base: 'bare', module: 'bare.mjs', options: { syscalls: 2 }, onlyWhenAsked: true },
  // A twin of bare, the same server started again: what the method itself reads between two identical servers
  // (their order on the core, where each landed in memory), the size of a difference that means nothing.
  { name: 'bare-twin', base: 'bare', module: 'bare.mjs', options: {}, onlyWhenAsked: true },
  // Another: bare plus a 'gc' PerformanceObserver that does nothing, what Node's GC tracking costs by itself.
  { name: 'bare-gc', base: 'bare', module: 'bare.mjs', options: { gcObserver: true }, onlyWhenAsked: true },
  // Another: bare plus an XADD of its own a second (contenders/bare.mjs), what Redis traffic at a sink's pace costs.
  { name: 'bare-redis', base: 'bare', module: 'bare.mjs', options: { redisEvery: 1000 }, needs: 'redis-client', onlyWhenAsked: true },
  // Another: an XADD of a sink-sized entry after every 500 requests, the Redis sink's traffic without its work.
  {
    name: 'bare-redis500', base: 'bare', module: 'bare.mjs', options: { redisPerRequests: 500 }, needs: 'redis-client',
    onlyWhenAsked: true,
  },
  // The same entries as hand-written RESP on a plain socket: what node-redis adds to that traffic.
  {
    name: 'bare-redis500-raw', base: 'bare', module: 'bare.mjs', options: { redisPerRequests: 500, redisRaw: true },
    needs: 'redis-client', onlyWhenAsked: true,
  },
  { name: 'floor', base: 'bare', module: 'floor.mjs', options: {} },
  { name: 'floor-als', base: 'bare', module: 'floor.mjs', options: { als: true } },
  { name: 'rm-memory', base: 'bare', module: 'routemeter.mjs', options: { sink: 'memory' }, routemeter: true },
  { name: 'rm-memory-window', base: 'bare', module: 'routemeter.mjs', options: { sink: 'memory', cpu: 'window' }, routemeter: true },
  { name: 'rm-memory-nocpu', base: 'bare', module: 'routemeter.mjs', options: { sink: 'memory', cpu: false }, routemeter: true },
  // The same two, from an older build (ROUTEMETER_BENCH_DIST_BEFORE), only when that variable is set.
  { name: 'rm-memory-before', base: 'bare', module: 'routemeter.mjs', options: { sink: 'memory', dist: 'before' }, routemeter: true },
  {
    name: 'rm-memory-nocpu-before', base: 'bare', module: 'routemeter.mjs',
    options: { sink: 'memory', cpu: false, dist: 'before' }, routemeter: true,
  },
  // A sink that keeps nothing (bench/instructions.mjs): the same request path without memorySink's 10,000
  // records. Not in run.mjs's default table (`onlyWhenAsked`): the memory rows already price that path.
  { name: 'rm-discard', base: 'bare', module: 'routemeter.mjs', options: { sink: 'discard' }, routemeter: true, onlyWhenAsked: true },
  {
    name: 'rm-discard-nocpu', base: 'bare', module: 'routemeter.mjs', options: { sink: 'discard', cpu: false },
    routemeter: true, onlyWhenAsked: true,
  },
  // `cpu: false` plus the attributed clock's switch hook, reading each callback's store for a function that does
  // nothing: what the hook mechanism costs by itself, the part of the default's price no clock design removes.
  {
    name: 'rm-discard-nocpu-hooks', base: 'bare', module: 'routemeter.mjs', options: { sink: 'discard', cpu: false, hooks: 'switch' },
    routemeter: true, onlyWhenAsked: true,
  },
  // The default with parts of its clock taken out (lib/clock-ablation.mjs): what its idle reads and all its reads cost.
  {
    name: 'rm-discard-noidle', base: 'bare', module: 'routemeter.mjs', options: { sink: 'discard', dist: 'no-idle' },
    routemeter: true, onlyWhenAsked: true,
  },
  {
    name: 'rm-discard-noreads', base: 'bare', module: 'routemeter.mjs', options: { sink: 'discard', dist: 'no-reads' },
    routemeter: true, onlyWhenAsked: true,
  },
  {
    name: 'rm-discard-before', base: 'bare', module: 'routemeter.mjs', options: { sink: 'discard', dist: 'before' },
    routemeter: true, onlyWhenAsked: true,
  },
  {
    name: 'rm-discard-nocpu-before', base: 'bare', module: 'routemeter.mjs',
    options: { sink: 'discard', cpu: false, dist: 'before' }, routemeter: true, onlyWhenAsked: true,
  },
  { name: 'rm-redis', base: 'bare', module: 'routemeter.mjs', options: { sink: 'redis' }, needs: 'redis', routemeter: true },
  { name: 'rm-statsd', base: 'bare', module: 'routemeter.mjs', options: { sink: 'statsd' }, needs: 'statsd', routemeter: true },
  // The Redis sink flushing every 2,000 records instead of 500: what the per-flush part of its cost is.
  {
    name: 'rm-redis-batch2000', base: 'bare', module: 'routemeter.mjs', options: { sink: 'redis', batchSize: 2000 },
    needs: 'redis', routemeter: true, onlyWhenAsked: true,
  },
  // The two sinks from the older build too (ROUTEMETER_BENCH_DIST_BEFORE), for run.mjs: a redesign's before and after.
  {
    name: 'rm-redis-before', base: 'bare', module: 'routemeter.mjs',
    options: { sink: 'redis', dist: 'before' }, needs: 'redis', routemeter: true,
  },
  {
    name: 'rm-statsd-before', base: 'bare', module: 'routemeter.mjs',
    options: { sink: 'statsd', dist: 'before' }, needs: 'statsd', routemeter: true,
  },
  { name: 'otel-http', base: 'bare', module: 'otel.mjs', options: {} },
  { name: 'hot-shots', base: 'bare', module: 'hotshots.mjs', options: {}, needs: 'statsd' },
  { name: 'express', base: 'express', module: 'express.mjs', options: { variant: 'express' } },
  { name: 'express-prom-bundle', base: 'express', module: 'express.mjs', options: { variant: 'prom' } },
  { name: 'connect-datadog', base: 'express', module: 'express.mjs', options: { variant: 'datadog' }, needs: 'statsd' },
]

export const PEERS = ['otel-http', 'hot-shots', 'express-prom-bundle', 'connect-datadog']
