import type { Params } from 'nestjs-pino';

/** JSON logs (pino) with request ids; credentials and tokens never reach a log line. */
export function loggingOptions(service: string, level: string): Params {
  return {
    pinoHttp: {
      level,
      base: { service },
      messageKey: 'message',
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: { level: (label: string) => ({ level: label }) },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.credentials', '*.secret', '*.token'],
        censor: '[redacted]',
      },
      customProps: (req) => {
        const principal = (req as { principal?: { tenantId: string; subject: string } }).principal;
        return principal ? { tenant_id: principal.tenantId, actor: principal.subject } : {};
      },
      autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
      quietReqLogger: true,
    },
  };
}
