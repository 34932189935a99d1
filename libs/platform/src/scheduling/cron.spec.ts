import { parseCronExpression, resolveTimeZone, ScheduleDefinitionError, validateCronExpression } from './cron';

describe('cron expressions', () => {
  it.each([
    ['* * * * *', false],
    ['*/15 9-17 * * MON-FRI', false],
    ['0 0 L * *', false],
    ['0 9 * * 1#1', false],
    ['* * * * * *', true],
    ['30 0 2 * * *', true],
    ['  0   2 * *   * ', false],
    ['@daily', true],
    ['@Hourly', true],
  ])('accepts %j (seconds field: %s)', (expression, hasSeconds) => {
    expect(parseCronExpression(expression).hasSeconds).toBe(hasSeconds);
  });

  it.each([
    ['', /cron_expression is empty/],
    ['   ', /cron_expression is empty/],
    ['* * * *', /has 4 fields; expected 5 \(minute hour day-of-month month day-of-week\) or 6/],
    ['* * * * * * *', /has 7 fields/],
    ['61 * * * *', /minute field "61": 61 is outside 0-59/],
    ['* 24 * * *', /hour field "24": 24 is outside 0-23/],
    ['* * 0 * *', /day-of-month field "0": 0 is outside 1-31/],
    ['* * * 13 *', /month field "13": 13 is outside 1-12/],
    ['* * * * 8', /day-of-week field "8": 8 is outside 0-7/],
    ['60 * * * * *', /second field "60": 60 is outside 0-59/],
    ['a * * * *', /minute field "a": invalid characters "a"/],
    ['*/0 * * * *', /minute field "\*\/0": a step must be at least 1/],
    ['5-1 * * * *', /minute field "5-1": invalid range/i],
    ['0 0 31 4 *', /day-of-month "31" never occurs in month "4"/],
    ['0 0 30 2 *', /day-of-month "30" never occurs in month "2"/],
    ['@every 5s', /"@every 5s" is not a known descriptor/],
    ['@once', /not a known descriptor/],
  ])('refuses %j, naming what is wrong', (expression, message) => {
    expect(() => parseCronExpression(expression)).toThrow(message);
    try {
      parseCronExpression(expression);
    } catch (error) {
      expect(error).toBeInstanceOf(ScheduleDefinitionError);
      expect((error as ScheduleDefinitionError).field).toBe('cron_expression');
    }
  });

  it('validateCronExpression answers without throwing', () => {
    expect(validateCronExpression('0 3 * * *')).toEqual({ valid: true });
    expect(validateCronExpression('0 3 * *')).toEqual({ valid: false, error: expect.stringMatching(/has 4 fields/) });
  });

  it('keeps hashed (H) fields stable per seed', () => {
    const a = parseCronExpression('H * * * *', 'job-a').fields.minute.values;
    expect(parseCronExpression('H * * * *', 'job-a').fields.minute.values).toEqual(a);
  });
});

describe('time zones', () => {
  it.each(['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Etc/GMT-2'])('accepts %s', (tz) => {
    expect(resolveTimeZone(tz)).toBe(tz);
  });

  it('reads NULL and empty as UTC (seed 001 default)', () => {
    expect(resolveTimeZone(null)).toBe('UTC');
    expect(resolveTimeZone('')).toBe('UTC');
  });

  it.each(['Mars/Olympus_Mons', '+02:00', 'GMT+2', 'Paris'])('refuses %s, naming the timezone field', (tz) => {
    expect(() => resolveTimeZone(tz)).toThrow(new ScheduleDefinitionError('timezone', `timezone "${tz}" is not an IANA time zone (for example Europe/Paris, America/New_York or UTC)`));
  });
});
