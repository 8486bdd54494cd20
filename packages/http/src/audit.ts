import type { Db } from '@fairlabel/db';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '@fairlabel/db';
import type { AuthContext } from './types.js';

/** Records who read, exported or purged what (the audit_log table); data-protection reviews read it. */
export async function writeAudit(
  db: Db | Kysely<Database> | Transaction<Database>,
  caller: AuthContext,
  entry: { action: string; resourceType: string; resourceId: string; details?: Record<string, unknown> },
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      organization_id: caller.organizationId,
      actor_key_id: caller.keyId,
      actor_role: caller.role,
      action: entry.action,
      resource_type: entry.resourceType,
      resource_id: entry.resourceId,
      details: JSON.stringify(entry.details ?? {}),
    })
    .execute();
}
