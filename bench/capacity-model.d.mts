/** Types of bench/capacity-model.mjs for the TypeScript tests (the script itself has no build step). */
export interface ModelInput {
  sizes?: number[];
  sockets?: number;
  tenants?: number;
  zipf?: number;
  appsPerTenant?: number;
  adminSockets?: number;
  tenantWideShare?: number;
  maxApps?: number;
  usPerNatsMsg?: number;
  usPerWrite?: number;
  usPerDelivery?: number;
  maxWritesPerSocket?: number;
  cpuTarget?: number;
  bytesPerSocket?: number;
  nodeMemoryBytes?: number;
  natsMsgsPerServer?: number;
  natsMinServers?: number;
  streamLeaderMaxEvents?: number;
  balanceFactor?: number;
  slotShare?: number;
  maxNodes?: number;
  chunk?: number;
  seed?: number;
}
export type ModelParams = Required<Omit<ModelInput, "appsPerTenant" | "sizes">> & { sizes: number[]; appsPerTenant?: number };
export interface Tenant {
  id: number;
  size: number;
  rate: number;
  wide: number;
  apps: { sockets: number; rate: number }[];
  slots?: number;
}
export interface Fleet {
  nodes: number;
  amplification: number;
  subsPerNode: number;
  subsCluster: number;
  ingestPerNode: number;
  socketsPerNode: number;
  deliveriesPerEvent: number;
  cpu: number;
  ingest: number;
  sockets: number;
  adminNodes?: number;
}
export interface Plan {
  routing: "random" | "affinity";
  events: number;
  sockets: number;
  deliveriesPerEvent: number;
  nodes: number | undefined;
  adminNodes: number | undefined;
  amplification: number | undefined;
  natsEgress: number | undefined;
  natsServers: number | undefined;
  subsPerNode: number | undefined;
  subsCluster: number | undefined;
  ingestPerNode: number | undefined;
  socketsPerNode: number | undefined;
  cpuPerNode: number | undefined;
  bottleneck: string;
  streamLeader: string;
}
export const DEFAULTS: Readonly<ModelParams & { events: number[] }>;
export function zipfSizes(sockets: number, tenants: number, s: number): number[];
export function workload(p: ModelParams, events: number): Tenant[];
export function randomFleet(p: ModelParams, tenants: Tenant[], events: number, nodes: number): Fleet;
export function affinityFleet(p: ModelParams, tenants: Tenant[], events: number, nodes: number): Fleet;
export function adminPool(p: ModelParams, events: number): { nodes: number; feasible: boolean; socketsPerNode?: number; ingest?: number };
export function plan(input: ModelInput, events: number, routing: "random" | "affinity"): Plan;
export function benchFigures(results: unknown): { usPerWrite?: number; usPerDelivery?: number; bytesPerSocket?: number };
