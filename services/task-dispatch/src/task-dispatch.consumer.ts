import type { Deps, ServiceProcess } from '@fairlabel/runtime';

export async function startTaskDispatchConsumers(_deps: Deps): Promise<ServiceProcess & { workers: NonNullable<ServiceProcess['workers']> }> {
  return { workers: [] };
}
