import {
  createWorkerBody,
  errorResponses,
  idParamsSchema,
  listWorkersQuery,
  pageOf,
  setSkillBody,
  skillParamsSchema,
  updateWorkerBody,
  workerSchema,
  workerSkillSchema,
  workerWithSkillsSchema,
} from '@fairlabel/contracts';
import { callerOf, withIdempotency, type FastifyPluginAsyncZod } from '@fairlabel/http';
import { createWorker, getWorkerWithSkills, listWorkers, setSkill, updateWorker } from './workers.service.js';

const errors = errorResponses(409, 422);
const tags = ['workers'];

export const workerRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db } = app.deps;

  app.post(
    '/workers',
    {
      config: { roles: ['vendor'] },
      schema: {
        operationId: 'createWorker',
        tags,
        summary: 'Add a worker to your vendor organization',
        body: createWorkerBody,
        response: { 201: workerSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return withIdempotency(request, reply, async () => ({ statusCode: 201, body: await createWorker(db, caller.organizationId, request.body) }));
    },
  );

  app.get(
    '/workers',
    {
      config: { roles: ['vendor', 'ops', 'admin'] },
      schema: {
        operationId: 'listWorkers',
        tags,
        summary: 'Your workers (platform staff: any vendor’s)',
        querystring: listWorkersQuery,
        response: { 200: pageOf(workerSchema), ...errors },
      },
    },
    async (request) => listWorkers(db, callerOf(request), request.query),
  );

  app.get(
    '/workers/:id',
    {
      config: { roles: ['vendor', 'ops', 'admin'] },
      schema: {
        operationId: 'getWorker',
        tags,
        summary: 'One of your workers, with skills',
        params: idParamsSchema,
        response: { 200: workerWithSkillsSchema, ...errors },
      },
    },
    async (request) => getWorkerWithSkills(db, callerOf(request), request.params.id),
  );

  app.patch(
    '/workers/:id',
    {
      config: { roles: ['vendor'] },
      schema: {
        operationId: 'updateWorker',
        tags,
        summary: 'Change a worker: region, time zone, status, accommodations, daily active-time limit',
        params: idParamsSchema,
        body: updateWorkerBody,
        response: { 200: workerSchema, ...errors },
      },
    },
    async (request) => updateWorker(db, callerOf(request), request.params.id, request.body),
  );

  app.put(
    '/workers/:id/skills/:skill',
    {
      config: { roles: ['vendor', 'ops', 'admin'] },
      schema: {
        operationId: 'setWorkerSkill',
        tags,
        summary: 'Set a skill level (vendors: 1–2; platform ops/admin: certify 1–5 with a reason)',
        description: 'Every change is recorded in the skill history with who made it and why.',
        params: skillParamsSchema,
        body: setSkillBody,
        response: { 200: workerSkillSchema, ...errors },
      },
    },
    async (request) => setSkill(db, callerOf(request), request.params.id, request.params.skill, request.body.level, request.body.reason),
  );
};
