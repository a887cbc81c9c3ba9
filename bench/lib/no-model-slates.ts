/**
 * Preload for `bench:http --no-model` (`node --require`; worker threads inherit it): `serveSlate`, in every thread
 * that loads it, replaced by a uniform random slate drawn without reading the model: no scoring, no posterior
 * draws, no simulated slates; exact propensities (1/n at each position, k/n in the slate). Everything else on the
 * slate path is the service's own: the HTTP request and its validation, the user's fold-in, the hop to the slate
 * worker and back, the response, the impression logged to PostgreSQL and learned from. So bench:http's ratio with
 * it is what that path allows with the policy's work removed, the ceiling for any policy on the machine it runs on
 * (docs/benchmarks.md): if anything a little high, since its numbers (score 0, propensities 1/n) are shorter in the
 * response and the log than a policy's. Candidates, exclusions and inactive items are ignored (bench:http sends none).
 * Never loaded by the service itself.
 */
import Module from 'node:module';
import type { PolicyConfig } from '../../src/core/policies/policy-config.schema';
import type { ServedItem, ServedSlate } from '../../src/core/policies/serve-slate';
import type { ServingSnapshot } from '../../src/core/model/serving-snapshot';
import type { SlateRequest } from '../../src/core/policies/slate-request';
import type { Rng } from '../../src/core/random';

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
interface ModuleInternals {
  _load: Loader;
  _resolveFilename(request: string, parent: unknown, isMain: boolean): string;
}

const TARGET = /[\\/]core[\\/]policies[\\/]serve-slate\.js$/;

/** A uniform slate of min(size, n) distinct items from the whole catalogue, read from nothing but its size. */
function uniformSlate(
  snapshot: ServingSnapshot,
  policy: PolicyConfig,
  request: SlateRequest,
  rng: Rng,
): ServedSlate {
  const n = snapshot.itemIds.length;
  const requestedSize = request.size ?? 10;
  const k = Math.min(requestedSize, n);
  const taken = new Set<number>();
  const items: ServedItem[] = [];
  while (items.length < k) {
    const index = rng.nextInt(n);
    if (taken.has(index)) continue;
    taken.add(index);
    items.push({
      index,
      itemId: snapshot.itemIds[index],
      position: items.length + 1,
      score: 0,
      propensity: 1 / n,
      inSlateProbability: k / n,
    });
  }
  return {
    items,
    policy,
    modelVersion: snapshot.version,
    requestedSize,
    inactiveCandidates: [],
    propensityKind: 'exact',
    simulatedSlates: 0,
  };
}

const internals = Module as unknown as ModuleInternals;
const load = internals._load;
let replaced: unknown;
internals._load = function (request: string, parent: unknown, isMain: boolean): unknown {
  const m = load.call(this, request, parent, isMain);
  if (!request.endsWith('serve-slate') && !request.endsWith('serve-slate.js')) return m;
  if (!TARGET.test(internals._resolveFilename(request, parent, isMain))) return m;
  replaced ??= { ...(m as object), serveSlate: uniformSlate };
  return replaced;
};
