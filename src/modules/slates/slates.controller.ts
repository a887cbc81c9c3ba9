import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { AppException } from '../../common/http/app-exception';
import { sendJson } from '../../common/http/send-json';
import { ZodPipe } from '../../common/validation/zod.pipe';
import { SlateRequestDto, SlateResponseDto, StoredSlateDto, type SlateResponse } from './dto/slate.schema';
import { ClientGoneError, SlatesService } from './slates.service';

const SlateIdSchema = z.uuid({ error: 'must be a slate id (a UUID)' });

@ApiTags('slates')
@Controller('v1/slates')
export class SlatesController {
  constructor(private readonly slates: SlatesService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Serve a slate of k items for a user',
    description:
      'Chosen by the serving policy (in-slate Thompson sampling by default); every item carries the probability ' +
      'that the policy puts it at its position. The slate is logged as an impression.',
  })
  @ApiOkResponse({ type: SlateResponseDto })
  async serve(@Body() body: SlateRequestDto, @Res() res: Response): Promise<void> {
    // A client that has closed its connection (its response destroyed before it was written) gets no slate, and
    // none is logged; a request still queued for a slate worker is skipped there.
    let answer: SlateResponse;
    try {
      answer = await this.slates.serve(body, undefined, {
        gone: () => res.destroyed,
        onGone: (listener) =>
          res.once('close', () => {
            if (!res.writableFinished) listener();
          }),
      });
    } catch (e) {
      if (e instanceof ClientGoneError) return; // no one to answer
      throw e;
    }
    // The hot route writes its own response (see sendJson); errors still reach the exception filter, since
    // serve() rejects before anything is written.
    sendJson(res, 200, answer);
  }

  @Get(':slateId')
  @ApiOperation({ summary: 'Read a served slate back from the impression log' })
  @ApiOkResponse({ type: StoredSlateDto })
  async find(@Param('slateId', new ZodPipe(SlateIdSchema)) slateId: string) {
    const s = await this.slates.find(slateId);
    if (!s) throw new AppException(404, 'slate_not_found', `No served slate with id "${slateId}" (yet).`);
    return {
      slateId: s.slateId,
      userId: s.userId,
      servedAt: s.servedAt.toISOString(),
      items: s.items,
      policy: s.policy,
      seed: s.seed,
      modelVersion: s.modelVersion,
      propensityKind: s.propensityKind,
      simulatedSlates: s.simulatedSlates,
      requestedSize: s.requestedSize,
      context: s.context,
      ...(s.experiment ? { experiment: s.experiment } : {}),
    };
  }
}
