import type { Migrator } from 'kysely';

/** The name of the migration that runs just before `name`: a migration test migrates to it, writes rows as they were, then runs `name` on them. */
export async function migrationBefore(migrator: Migrator, name: string): Promise<string> {
  const names = (await migrator.getMigrations()).map((m) => m.name).sort();
  const i = names.indexOf(name);
  if (i < 1) throw new Error(`no migration before ${name}`);
  return names[i - 1]!;
}
