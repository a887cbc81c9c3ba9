// Integration tests start real services (PostgreSQL databases, a Kafka broker, child processes).
jest.setTimeout(120_000);
