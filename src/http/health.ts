// Liveness and readiness. /healthz says the process runs; /readyz also checks the database,
// so a load balancer stops sending traffic to an instance that cannot reach it.
import Router from '@koa/router';

export function healthRoutes(isReady: () => Promise<boolean>): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const ready = await isReady();
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', database: ready ? 'ok' : 'unreachable' };
  });
  return router;
}
