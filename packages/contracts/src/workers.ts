import { z } from 'zod';
import { countryCodeSchema, pageQuerySchema, timestampSchema } from './common.js';

const skillNamePattern = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const skillNameSchema = z.string().regex(skillNamePattern, 'lowercase letters, digits, `_`, `.`, `-`; up to 64 characters');

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
export const timeZoneSchema = z.string().min(1).max(64).refine(isTimeZone, 'not an IANA time zone, e.g. Asia/Kolkata');

export const regionSchema = z
  .strictObject({
    country: countryCodeSchema,
    province: z.string().trim().min(1).max(64).nullable().default(null).describe('Province or state code, e.g. `KA`.'),
    city_tier: z.number().int().min(1).max(5).describe('1 = largest cities … 5 = villages.'),
    area: z.enum(['urban', 'rural']),
  })
  .meta({ id: 'WorkerRegion' });

export const accommodationsSchema = z
  .looseObject({
    lease_factor: z
      .number()
      .min(1)
      .max(4)
      .optional()
      .describe("Multiplies every job's lease time, for workers on slow connections or who need more time."),
  })
  .meta({ id: 'WorkerAccommodations' });

export const workerStatusSchema = z.enum(['active', 'suspended']);

export const workerSchema = z
  .object({
    id: z.uuid(),
    vendor_id: z.uuid(),
    external_ref: z.string().nullable().describe("The vendor's own identifier for the worker."),
    display_name: z.string(),
    region: regionSchema,
    timezone: z.string(),
    status: workerStatusSchema,
    accommodations: accommodationsSchema,
    daily_active_limit_seconds: z.number().int().nullable().describe('Welfare cap on active time per day (in the worker’s time zone); null: none.'),
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .meta({ id: 'Worker' });

const dailyLimit = z.number().int().min(60).max(86_400).nullable();

export const createWorkerBody = z.strictObject({
  display_name: z.string().trim().min(1).max(200),
  external_ref: z.string().trim().min(1).max(200).optional(),
  region: regionSchema,
  timezone: timeZoneSchema.default('UTC'),
  accommodations: accommodationsSchema.default({}),
  daily_active_limit_seconds: dailyLimit.default(null),
});

export const updateWorkerBody = z
  .strictObject({
    display_name: z.string().trim().min(1).max(200),
    external_ref: z.string().trim().min(1).max(200).nullable(),
    region: regionSchema,
    timezone: timeZoneSchema,
    status: workerStatusSchema,
    accommodations: accommodationsSchema,
    daily_active_limit_seconds: dailyLimit,
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, 'name at least one field to change');

export const listWorkersQuery = pageQuerySchema.extend({
  status: workerStatusSchema.optional(),
  vendor_id: z.uuid().optional().describe('Platform staff only: the vendor whose workers to list.'),
});

export const skillLevelSchema = z.number().int().min(1).max(5);

export const workerSkillSchema = z
  .object({
    skill: z.string(),
    level: z.number().int(),
    source: z.enum(['vendor', 'qa', 'ops']),
    suspended_at: timestampSchema.nullable().describe('Set while QA has suspended the worker from this skill.'),
    updated_at: timestampSchema,
  })
  .meta({ id: 'WorkerSkill' });

export const skillParamsSchema = z.object({ id: z.uuid(), skill: skillNameSchema });

export const setSkillBody = z.strictObject({
  level: skillLevelSchema.describe('Vendors may set 1–2; levels 3–5 are certifications by platform ops/admin keys.'),
  reason: z.string().trim().min(1).max(1000).optional().describe('Required for certifications (levels 3–5); recorded in the skill history.'),
});

export const workerWithSkillsSchema = workerSchema.extend({ skills: z.array(workerSkillSchema) }).meta({ id: 'WorkerWithSkills' });
