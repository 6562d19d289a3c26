// The cheapest set of values to store so that everything else can be
// recomputed cheaply: a minimum vertex cut, found as a maximum flow
// (Edmonds–Karp) in the usual split graph where each node v becomes
// in(v) -> out(v) with v's storage cost as capacity and every other edge is
// unbounded. Cutting in(v) -> out(v) means "store v". The graphs are a scan
// body's values (tens of nodes), so the textbook algorithm is plenty.

/** What to separate: values the sources make costly, values the sinks need. */
export interface CutProblem {
  /** Cost of storing node v (nodes are 0..capacity.length-1); Infinity: it cannot be stored. */
  capacity: number[];
  /** Nodes that cost too much to recompute (a matmul's product): reachable from the source. */
  sources: number[];
  /** Nodes the consumer reads: they feed the sink. */
  sinks: number[];
  /** [a, b]: b is computed (cheaply) from a. */
  edges: [number, number][];
}

/**
 * The nodes of a minimum-cost set meeting every source-to-sink path, the one
 * nearest the sinks (of several equally cheap sets, the one leaving the
 * consumer least to recompute); null when every such set contains a node
 * that cannot be stored.
 */
export function minVertexCut(p: CutProblem): number[] | null {
  const n = p.capacity.length;
  const [source, sink] = [2 * n, 2 * n + 1];
  const to: number[] = [];
  const cap: number[] = [];
  const adj: number[][] = Array.from({ length: 2 * n + 2 }, () => []);
  // Arc i and its reverse i ^ 1 are stored side by side.
  const arc = (a: number, b: number, c: number) => {
    adj[a]!.push(to.length);
    to.push(b);
    cap.push(c);
    adj[b]!.push(to.length);
    to.push(a);
    cap.push(0);
  };
  p.capacity.forEach((c, v) => arc(2 * v, 2 * v + 1, c));
  for (const v of p.sources) arc(source, 2 * v, Infinity);
  for (const v of p.sinks) arc(2 * v + 1, sink, Infinity);
  for (const [a, b] of p.edges) arc(2 * a + 1, 2 * b, Infinity);

  /** Arc by which each vertex was first reached from the source (-1: the source; undefined: not reached). */
  const search = (): (number | undefined)[] => {
    const via: (number | undefined)[] = new Array(2 * n + 2);
    via[source] = -1;
    const queue = [source];
    for (let q = 0; q < queue.length; q++)
      for (const i of adj[queue[q]!]!)
        if (cap[i]! > 0 && via[to[i]!] === undefined) {
          via[to[i]!] = i;
          queue.push(to[i]!);
        }
    return via;
  };
  // Nodes on some path from a source (through `edges`): only these can meet one.
  const onPath = new Set(p.sources);
  const next: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of p.edges) next[a]!.push(b);
  for (const v of onPath) for (const w of next[v]!) onPath.add(w);
  /**
   * The cut nearest the sinks: nodes whose out-vertex still reaches the sink
   * in the residual graph and whose in-vertex does not. A free node off every
   * source's path passes that test too (its zero arc is never crossed), and
   * is dropped: it separates nothing.
   */
  const nearSink = (): number[] => {
    const reaches = new Set([sink]);
    const queue = [sink];
    // Arc i ^ 1 runs from to[i] into the vertex being expanded.
    for (let q = 0; q < queue.length; q++)
      for (const i of adj[queue[q]!]!)
        if (cap[i ^ 1]! > 0 && !reaches.has(to[i]!)) {
          reaches.add(to[i]!);
          queue.push(to[i]!);
        }
    return [...Array(n).keys()].filter(
      (v) => onPath.has(v) && reaches.has(2 * v + 1) && !reaches.has(2 * v),
    );
  };
  for (;;) {
    const via = search();
    if (via[sink] === undefined) return nearSink();
    let push = Infinity;
    for (let w = sink; w !== source; w = to[via[w]! ^ 1]!) push = Math.min(push, cap[via[w]!]!);
    if (push === Infinity) return null;
    for (let w = sink; w !== source; w = to[via[w]! ^ 1]!) {
      cap[via[w]!]! -= push;
      cap[via[w]! ^ 1]! += push;
    }
  }
}
