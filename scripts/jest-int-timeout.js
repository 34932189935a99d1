/* global jest */
// Integration tests wait on a real broker and database: boot, group joins and topic creation take seconds.
jest.setTimeout(120_000);
