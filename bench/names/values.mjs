// Path parameter values by kind, as the three APIs see them in production: plain words (Kubernetes namespaces and
// object names, GitLab logins, branches, tags), integers, hex shas, uuids, file paths with `/`, prefixed Stripe ids.
// Every kind has a Zipf-ranked universe: the value of rank k is a function of (seed, kind, k) alone, so popular values
// repeat across requests (`default`, `kube-system`, project 278964) and the tail is mostly seen once.
import { prng } from './prng.mjs'

const HEX = '0123456789abcdef'
const B36 = '0123456789abcdefghijklmnopqrstuvwxyz'
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
// Pod hash suffixes avoid vowels so they never spell words (the same alphabet Kubernetes uses).
const SAFE = 'bcdfghjklmnpqrstvwxz2456789'

const APPS = ['api', 'web', 'worker', 'payments', 'checkout', 'auth', 'search', 'billing', 'gateway', 'frontend', 'orders',
  'inventory', 'notifications', 'postgres', 'redis', 'kafka', 'nginx', 'coredns', 'prometheus', 'grafana', 'loki', 'vault']
const WORDS = ['alpha', 'atlas', 'beacon', 'cobalt', 'delta', 'ember', 'falcon', 'granite', 'harbor', 'indigo', 'juniper',
  'kestrel', 'lumen', 'meadow', 'nimbus', 'orchid', 'pioneer', 'quartz', 'raven', 'summit', 'tundra', 'vertex', 'willow', 'zephyr']
const ENVS = ['prod', 'staging', 'dev', 'qa', 'canary', 'sandbox']
const FIRST = ['john', 'jane', 'alex', 'maria', 'wei', 'fatima', 'lukas', 'sofia', 'omar', 'yuki', 'priya', 'diego']
const LAST = ['doe', 'smith', 'garcia', 'chen', 'muller', 'rossi', 'kowalski', 'tanaka', 'singh', 'silva', 'novak']
const NAMESPACES = ['default', 'kube-system', 'monitoring', 'ingress-nginx', 'kube-node-lease', 'cert-manager', 'argocd',
  'kube-public', 'istio-system', 'logging']
// Custom resources: their group/version/plural are a bounded catalogue, the way operators install them.
const GROUPS = ['cert-manager.io', 'monitoring.coreos.com', 'argoproj.io', 'networking.istio.io', 'traefik.io', 'velero.io',
  'external-secrets.io', 'keda.sh', 'kustomize.toolkit.fluxcd.io', 'metrics.k8s.io']
const VERSIONS = ['v1', 'v1alpha1', 'v1beta1', 'v2']
const PLURALS = ['certificates', 'servicemonitors', 'applications', 'virtualservices', 'ingressroutes', 'backups',
  'externalsecrets', 'scaledobjects', 'kustomizations', 'pods', 'nodes', 'prometheusrules']
const PROXY_PATHS = ['metrics', 'metrics/cadvisor', 'api/v1/query', 'healthz', 'stats/summary', 'debug/pprof/heap', 'readyz']
const FILES = ['.gitlab-ci.yml', 'README.md', 'package.json', 'src/main.py', 'src/app/index.ts', 'docs/index.md', 'Dockerfile',
  'charts/api/values.yaml', 'lib/utils/date.rb', 'cmd/server/main.go', 'config/settings.yml', 'test/fixtures/user.json']
// Stripe id prefixes of the everyday resources; others get the initials of the resource's words (`bpc_` for
// billing_portal/configurations), which is how the real prefixes are mostly made.
const STRIPE = { customers: 'cus', payment_intents: 'pi', charges: 'ch', subscriptions: 'sub', invoices: 'in', prices: 'price',
  products: 'prod', refunds: 'ref', payment_methods: 'pm', setup_intents: 'seti', sessions: 'cs_live', events: 'evt',
  accounts: 'acct', files: 'file', coupons: 'co', payouts: 'po', transfers: 'tr', balance_transactions: 'txn', disputes: 'dp',
  subscription_items: 'si', invoiceitems: 'ii', plans: 'plan', tax_rates: 'txr', webhook_endpoints: 'we', sources: 'src',
  promotion_codes: 'promo', quotes: 'qt', payment_links: 'plink', persons: 'person', external_accounts: 'ba', reversals: 'trr' }
const STRIPE_WORDS = { country_specs: ['US', 'DE', 'FR', 'GB', 'JP', 'BR'], exchange_rates: ['usd', 'eur', 'gbp', 'jpy'],
  capabilities: ['card_payments', 'transfers', 'us_bank_account_ach_payments'], report_types: ['balance.summary.1', 'payouts.itemized.3'] }

const intOf = (r, lo, hi) => Math.floor(lo * Math.pow(hi / lo, r.next())) // log-uniform: ids of every age
const uuid = (r) => `${r.chars(HEX, 8)}-${r.chars(HEX, 4)}-4${r.chars(HEX, 3)}-${r.pick(['8', '9', 'a', 'b'])}${r.chars(HEX, 3)}-` +
  r.chars(HEX, 12)
const login = (r) => r.pick([() => `${r.pick(FIRST)}.${r.pick(LAST)}`, () => `${r.pick(FIRST)[0]}${r.pick(LAST)}`,
  () => `${r.pick(FIRST)}${r.int(100)}`, () => `${r.pick(WORDS)}-${r.pick(WORDS)}`])()
const app = (r) => r.pick([() => r.pick(APPS), () => `${r.pick(APPS)}-${r.pick(['api', 'worker', 'controller', 'server'])}`,
  () => `${r.pick(WORDS)}-${r.pick(APPS)}`])()

function namespace(r, k) {
  if (k <= NAMESPACES.length) return NAMESPACES[k - 1]
  return r.pick([() => `${r.pick(APPS)}-${r.pick(ENVS)}`, () => `team-${r.pick(WORDS)}`, () => `pr-${1 + r.int(9000)}`,
    () => `dev-${login(r).replace('.', '')}`, () => `tenant-${r.chars(HEX, 8)}`, () => `${r.pick(WORDS)}-${r.pick(ENVS)}-eu-west-1`])()
}

function node(r) {
  return r.pick([() => `ip-10-0-${r.int(256)}-${r.int(256)}.ec2.internal`, () => `worker-${r.int(40)}`,
    () => `gke-prod-default-pool-${r.chars(HEX, 8)}-${r.chars(B36, 4)}`, () => `aks-nodepool1-${r.int(1e8)}-vmss00000${r.int(10)}`,
    () => 'minikube', () => 'kind-control-plane'])()
}

/** A Kubernetes object name for the resource named by the literal before it. */
function object(r, resource) {
  switch (resource) {
    case 'pods': return r.pick([() => `${app(r)}-${r.chars(SAFE, 10)}-${r.chars(SAFE, 5)}`, () => `${app(r)}-${r.int(5)}`,
      () => `${app(r)}-${r.chars(SAFE, 5)}`])()
    case 'nodes': case 'leases': return node(r)
    case 'events': return `${app(r)}-${r.chars(SAFE, 5)}.${r.chars(HEX, 16)}`
    case 'persistentvolumes': return `pvc-${uuid(r)}`
    case 'namespaces': return namespace(r, 1 + r.int(200))
    case 'replicasets': return `${app(r)}-${r.chars(SAFE, 10)}`
    case 'configmaps': return r.pick([() => 'kube-root-ca.crt', () => `${app(r)}-config`, () => `${app(r)}-config-${r.chars(SAFE, 10)}`])()
    case 'secrets': return r.pick([() => `${app(r)}-tls`, () => `sh.helm.release.v1.${app(r)}.v${1 + r.int(9)}`, () => `${app(r)}-token`])()
    case 'clusterroles': case 'clusterrolebindings': case 'roles': case 'rolebindings':
      return r.pick([() => `system:controller:${app(r)}`, () => `${app(r)}-reader`, () => 'cluster-admin'])()
    default: return app(r)
  }
}

function gitlab(param, prev, r) {
  const p = param.toLowerCase()
  if (p === 'projectid' || p === 'groupid' || p.endsWith('projectid') || p.endsWith('groupid')) {
    // About half of clients address projects by numeric id, the rest by their URL-encoded full path.
    if (r.next() < 0.55) return String(intOf(r, 1, 6e7))
    if (p.includes('group')) return `${r.pick(WORDS)}-corp`
    return `${r.pick(WORDS)}-corp/${r.pick(APPS)}-${r.pick(['api', 'service', 'ui', 'infra'])}`
  }
  if (p === 'sha') return r.next() < 0.8 ? r.chars(HEX, 40) : r.chars(HEX, 8)
  if (p.includes('branch') || p === 'ref') {
    return r.pick([() => 'main', () => `feature/${r.pick(WORDS)}-${r.pick(APPS)}`, () => `${1 + r.int(9000)}-fix-${r.pick(APPS)}`,
      () => `${login(r)}-main-patch-${r.int(99999)}`, () => `release/${1 + r.int(17)}.${r.int(12)}`])()
  }
  if (p.includes('tag') || p.includes('version')) {
    return r.pick([() => `v${r.int(20)}.${r.int(20)}.${r.int(20)}`, () => `${r.int(17)}.${r.int(12)}.${r.int(9)}-ee`])()
  }
  if (p.includes('file') || p === 'path' || p === 'filepath') return r.pick(FILES)
  if (p === 'key' || p === 'keyid') {
    return r.pick(['AWS_ACCESS_KEY_ID', 'DATABASE_URL', 'DEPLOY_TOKEN', `${r.pick(APPS).toUpperCase()}_KEY`])
  }
  if (p === 'packagename' || p === 'modulename') {
    return r.pick([() => `@${r.pick(WORDS)}/${r.pick(APPS)}`, () => `${r.pick(WORDS)}-${r.pick(APPS)}`])()
  }
  if (p === 'username' || p === 'idorusername' || p === 'packageusername' || p === 'email') return login(r)
  if (p.includes('secret') || p.includes('token') || p === 'uploadidorsecret') return r.chars(HEX, 32)
  if (/i?id$/.test(p)) return String(prev === 'jobs' || prev === 'notes' ? intOf(r, 1e8, 1e10) : intOf(r, 1, 2e5))
  return `${r.pick(WORDS)}-${r.pick(APPS)}` // slugs, names, channels, distributions: words
}

function kubernetes(param, prev, r, k) {
  if (param === 'namespace') return namespace(r, k)
  if (param === 'group') return GROUPS[(k - 1) % GROUPS.length]
  if (param === 'version') return VERSIONS[(k - 1) % VERSIONS.length]
  if (param === 'plural' || param === 'resource_plural') return PLURALS[(k - 1) % PLURALS.length]
  if (param === 'path') return r.pick(PROXY_PATHS)
  if (param === 'logpath') {
    return r.pick(['kube-apiserver.log', 'pods/kube-system_coredns/0.log', `containers/${app(r)}-${r.chars(HEX, 12)}.log`])
  }
  return object(r, prev)
}

function stripe(prev, r) {
  const words = STRIPE_WORDS[prev]
  if (words) return r.pick(words)
  const prefix = STRIPE[prev] ?? prev.split('_').map((w) => w[0]).join('')
  return `${prefix}_${r.chars(B62, prefix === 'cs_live' ? 58 : 14 + r.int(11))}`
}

// Universe size per kind: large enough that the tail is mostly fresh values, as with real ids.
const UNIVERSE = 200_000

/** A value for `param` of `api`, the literals before it given (the last one names the resource), drawn from `r`. */
export function valueFor(api, param, literals, r, seed) {
  const prev = literals[literals.length - 1] ?? ''
  const kind = `${api}|${param}|${api === 'gitlab' ? '' : prev}`
  // Namespaces are few and hot; object ids spread wider.
  const k = r.zipf(param === 'namespace' ? 5000 : UNIVERSE, param === 'namespace' ? 1.3 : 1.05)
  const g = prng(`${seed}|${kind}|${k}`)
  if (api === 'kubernetes') return kubernetes(param, prev, g, k)
  if (api === 'gitlab') return gitlab(param, prev, g)
  return stripe(prev, g)
}
