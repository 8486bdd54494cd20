import type { TestProject } from 'vitest/node';
import { loadConfig } from '@fairlabel/config';
import { prepareTemplate } from './template.js';

/**
 * Vitest global setup: runs once per `vitest run`, before any test file, and hands the template's
 * name to the files (`inject('templateDatabase')`). Listed after the containers setup of
 * `@fairlabel/testing`, which may point DATABASE_URL at a throwaway server first.
 */
export default async function setup(project: TestProject) {
  project.provide('templateDatabase', await prepareTemplate(loadConfig().DATABASE_URL));
}
