import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { zodIssues } from '../../common/validation/zod-issues';
import { MAX_EVENT_BYTES, RecoEventSchema, type RecoEvent } from '../../messaging/event.schema';
import { fastParseEvent } from '../../messaging/fast-event';
import { LearningService } from '../learning/learning.service';
import { EventsRequestDto, EventsResponseDto, type EventsResponse } from './dto/events.schema';

@ApiTags('events')
@Controller('v1/events')
export class EventsController {
  constructor(private readonly learning: LearningService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send click and impression events (≤ 1000 per call) where there is no Kafka',
    description:
      'Same schemas and semantics as the Kafka topics. Answers per event: accepted (learned), duplicate ' +
      '(already learned: a retry is safe) or rejected (with each problem). The answer comes after the batch ' +
      'is committed, so an accepted event is never lost.',
  })
  @ApiOkResponse({ type: EventsResponseDto })
  async ingest(@Body() body: EventsRequestDto): Promise<EventsResponse> {
    const results: EventsResponse['results'] = [];
    const valid: RecoEvent[] = [];
    const validIndex: number[] = [];
    body.events.forEach((raw, index) => {
      const eventId = (raw as { eventId?: unknown } | null)?.eventId;
      const id = typeof eventId === 'string' ? eventId : undefined;
      const size = JSON.stringify(raw)?.length ?? 0;
      if (size > MAX_EVENT_BYTES) {
        results[index] = {
          index,
          eventId: id,
          status: 'rejected',
          issues: [{ path: `events[${index}]`, message: `is ${size} bytes; at most ${MAX_EVENT_BYTES}` }],
        };
        return;
      }
      // The hand-written happy path first (the body is ours: parsed for this request); zod decides and explains the rest.
      const fast = fastParseEvent(raw);
      if (fast) {
        valid.push(fast);
        validIndex.push(index);
        return;
      }
      const parsed = RecoEventSchema.safeParse(raw);
      if (!parsed.success) {
        results[index] = {
          index,
          eventId: id,
          status: 'rejected',
          issues: zodIssues(parsed.error, `events[${index}]`),
        };
        return;
      }
      valid.push(parsed.data);
      validIndex.push(index);
    });
    for (const r of results) if (r) this.learning.countEvents('http', 'rejected');
    const batch = await this.learning.learn(valid, 'http');
    batch.outcomes.forEach((o, k) => {
      const index = validIndex[k];
      const eventId = valid[k].eventId;
      if (o.status === 'rejected') {
        results[index] = {
          index,
          eventId,
          status: 'rejected',
          issues: [{ path: `events[${index}]${o.field ? `.${o.field}` : ''}`, message: o.reason }],
        };
      } else results[index] = { index, eventId, status: o.status };
    });
    return {
      accepted: results.filter((r) => r.status === 'accepted').length,
      duplicates: results.filter((r) => r.status === 'duplicate').length,
      rejected: results.filter((r) => r.status === 'rejected').length,
      results,
    };
  }
}
