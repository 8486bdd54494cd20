import type { ApiKeyRole } from '@fairlabel/contracts';
import type { OrganizationKind } from '@fairlabel/db';
import type { Deps } from '@fairlabel/runtime';

export interface AuthContext {
  keyId: string;
  keyPrefix: string;
  role: ApiKeyRole;
  /** The caller's tenant; every query a route makes is scoped to it in SQL. */
  organizationId: string;
  organizationKind: OrganizationKind;
  /** Set for worker keys only: the worker the key acts for (the organization is its vendor). */
  workerId: string | null;
}

/** A registered route as the security suites see it: who may call it is part of the route. */
export interface RouteTableEntry {
  method: string;
  url: string;
  auth?: 'public' | 'ops-session' | undefined;
  roles?: readonly ApiKeyRole[] | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: Deps;
    /** Every route registered, as fastify saw it (method, URL with :params). */
    routeTable: RouteTableEntry[];
    /** Call after revoking a key: forgets it in this process and tells every other gateway process. */
    apiKeyRevoked(keyPrefix: string): Promise<void>;
  }
  interface FastifyRequest {
    /** Null only on public routes; every other route has rejected the request before its handler runs. */
    auth: AuthContext | null;
  }
  interface FastifyContextConfig {
    /**
     * `public`: no key needed (health, docs). `ops-session`: the ops console's browser pages, which
     * authenticate by a session cookie in their own hook instead of a key. Default: a valid key is required.
     */
    auth?: 'public' | 'ops-session';
    /** Roles allowed on this route; others get 403. Omitted: any authenticated role. */
    roles?: readonly ApiKeyRole[];
    /**
     * The route refuses NUL and unpaired surrogates in its JSON body itself, in its own order of checks
     * (the submit: 404 for another's lease, then 409/403, then 422), so the JSON guard checks only depth.
     */
    ownTextChecks?: boolean;
  }
}
