import { sql, type Kysely } from 'kysely';

/**
 * A sample of hourly pay floors, so a new installation's fair-pay report and pay runs have something
 * to compare against. Every figure names the public page it was read from (source_url, source_title),
 * when it was read (source_date), and how the hourly figure follows from the legal one (basis):
 * minimum wages are set per day or per month, so the hourly floor divides by the legal hours the
 * basis names, rounded up to a whole minor unit (a floor never rounds down). Operators add or replace
 * rows through POST /v1/finance/pay-floors; a row with a later effective_from supersedes one.
 *
 * Regions: province codes are ISO 3166-2 subdivision codes without the country (DL = Delhi); NCR is
 * the Philippines' National Capital Region (ISO 3166-2:PH-00); Kenya's urban rate is the city_tier 1
 * row (Nairobi, Mombasa, Kisumu). Figures not included: Karnataka's 2025 rates (only a draft
 * notification was found), anything whose hours basis could not be read.
 *
 * Read on 2026-11-29 from stored copies of the pages (no live fetch was possible).
 */
const READ_ON = '2026-11-29';

export const samplePayFloors = [
  {
    country: 'US',
    province: null,
    city_tier: null,
    currency: 'USD',
    hourly_minor: 725,
    effective_from: '2009-07-24',
    basis: 'Federal minimum wage under the Fair Labor Standards Act: $7.25 per hour, effective 24 July 2009 (the last step of the Fair Minimum Wage Act of 2007). Already hourly.',
    source_url: 'https://www.louisianalawblog.com/labor-and-employment-law/final-increase-to-federal-minimum-wage-in-effect-pursuant-to-the-fair-minimum-wage-act-of-2007/',
    source_title: 'Final Increase to Federal Minimum Wage in Effect Pursuant to the Fair Minimum Wage Act of 2007 (Louisiana Law Blog)',
  },
  {
    country: 'PH',
    province: 'NCR',
    city_tier: null,
    currency: 'PHP',
    hourly_minor: 8688,
    effective_from: '2025-07-18',
    basis:
      'Wage Order No. NCR-26: PHP 695 per day for the non-agriculture sector in the National Capital Region from 18 July 2025; NCR minimum wage rates are for normal working hours not exceeding 8 a day ' +
      '(DOLE NCR, https://ncr.dole.gov.ph/news/private-workers-in-ncr-to-expect-pay-rise-in-monthly-minimum-wage/). 695 / 8 = 86.875, rounded up to PHP 86.88.',
    source_url: 'https://www.sunstar.com.ph/manila/wage-board-approves-p50-wage-increase-in-ncr',
    source_title: 'Wage board approves P50 wage increase in NCR (SunStar)',
  },
  {
    country: 'KE',
    province: null,
    city_tier: 1,
    currency: 'KES',
    hourly_minor: 7152,
    effective_from: '2024-11-01',
    basis:
      'Regulation of Wages (General) (Amendment) Order, 2024: general minimum wage in Nairobi, Mombasa and Kisumu KES 16,113.75 per month from 1 November 2024. Normal working week of 52 hours ' +
      '(https://www.rivermate.com/guides/kenya/working-hours, after the Regulation of Wages (General) Order 1982 cited by ILO TRAVAIL): 52 x 52 / 12 = 225.33 hours a month; 16,113.75 / 225.33 = 71.511, rounded up to KES 71.52.',
    source_url: 'https://faidihr.com/blog/kenyas-minimum-wages',
    source_title: 'Kenya’s minimum wages (Faidi HR)',
  },
  {
    country: 'NG',
    province: null,
    city_tier: null,
    currency: 'NGN',
    hourly_minor: 40385,
    effective_from: '2024-08-13',
    basis:
      'National Minimum Wage (Amendment) Act 2024: NGN 70,000 per month (in force by 13 August 2024, the date of reports on its implementation; the signing date was not read). Normal full-time hours of 40 a week ' +
      'under the National Minimum Wage Act (as quoted from https://mywage.ng/labour-law/compensation/): 40 x 52 / 12 = 173.33 hours a month; 70,000 / 173.33 = 403.846, rounded up to NGN 403.85.',
    source_url: 'https://beyondboders.com/labour-to-discuss-new-n70000-wage-with-state-govts',
    source_title: 'Labour to discuss new N70,000 wage with state govts (Beyond Boders)',
  },
  {
    country: 'BR',
    province: null,
    city_tier: null,
    currency: 'BRL',
    hourly_minor: 690,
    effective_from: '2025-01-01',
    basis: 'Salário mínimo R$ 1.518 per month from 1 January 2025, divided by the 220 monthly hours of law, as the source computes it: R$ 6,90 per hour.',
    source_url: 'https://paginainicialjf.jornalfloripa.com.br/noticia/100702',
    source_title: 'Salário mínimo 2025: como calcular a hora trabalhada (Jornal Floripa)',
  },
  {
    country: 'IN',
    province: null,
    city_tier: null,
    currency: 'INR',
    hourly_minor: 2200,
    effective_from: '2017-06-01',
    basis:
      'National Floor Level Minimum Wage INR 176 per day, last revised June 2017 (non-binding on states). Normal working day of 8 hours for a daily wage period under the minimum wage rules of the Code on Wages ' +
      '(https://www.taxtmi.com/acts?id=54178): 176 / 8 = INR 22.00 per hour.',
    source_url: 'https://modimeter.info/modi_meter/maintaining-same-growth-in-minimum-wages/',
    source_title: 'Maintaining same growth in minimum wages (Modi Meter)',
  },
  {
    country: 'IN',
    province: 'DL',
    city_tier: null,
    currency: 'INR',
    hourly_minor: 8875,
    effective_from: '2025-04-01',
    basis:
      'Delhi minimum wage for unskilled workers from 1 April 2025: INR 710 per day (INR 18,456 per month). Normal working day of 8 hours (https://www.taxtmi.com/acts?id=54178): 710 / 8 = INR 88.75 per hour.',
    source_url: 'https://www.zimyo.com/resources/guides/minimum-wages/delhi',
    source_title: 'Minimum Wages in Delhi 2025 (Zimyo)',
  },
] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`COMMENT ON COLUMN pay_floors.source_date IS 'When the source was read'`.execute(db);
  for (const f of samplePayFloors) {
    await sql`
      INSERT INTO pay_floors (country, province, city_tier, currency, hourly_minor, effective_from, basis, source_url, source_title, source_date)
      VALUES (${f.country}, ${f.province}, ${f.city_tier}, ${f.currency}, ${f.hourly_minor}, ${f.effective_from}, ${f.basis}, ${f.source_url}, ${f.source_title}, ${READ_ON})
      ON CONFLICT DO NOTHING
    `.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // The comment is this migration's too: without this the down left it behind (the schema round trip found it).
  await sql`COMMENT ON COLUMN pay_floors.source_date IS NULL`.execute(db);
  for (const f of samplePayFloors) {
    await sql`DELETE FROM pay_floors WHERE source_url = ${f.source_url} AND effective_from = ${f.effective_from} AND created_by_key_id IS NULL`.execute(db);
  }
}
