/** DI token of the process's kafkajs client (null when KAFKA_BROKERS is unset). */
export const KAFKA = Symbol('KAFKA');
