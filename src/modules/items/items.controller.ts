import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AppException } from '../../common/http/app-exception';
import { ZodPipe } from '../../common/validation/zod.pipe';
import { ImportResultDto, ItemDto, ItemIdSchema, PutItemDto } from './dto/item.schema';
import type { Item } from './item';
import { ItemsService } from './items.service';

const toDto = (i: Item) => ({
  ...i,
  createdAt: i.createdAt.toISOString(),
  updatedAt: i.updatedAt.toISOString(),
});

@ApiTags('items')
@Controller('v1')
export class ItemsController {
  constructor(private readonly items: ItemsService) {}

  @Put('items/:id')
  @ApiOperation({ summary: 'Create or replace an item' })
  @ApiOkResponse({ type: ItemDto, description: '200 when replaced, 201 when created' })
  async put(
    @Param('id', new ZodPipe(ItemIdSchema)) id: string,
    @Body() body: PutItemDto,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { item, created } = await this.items.put(id, body);
    res.status(created ? 201 : 200);
    return toDto(item);
  }

  @Get('items/:id')
  @ApiOperation({ summary: 'Read an item' })
  @ApiOkResponse({ type: ItemDto })
  async get(@Param('id', new ZodPipe(ItemIdSchema)) id: string) {
    const item = await this.items.get(id);
    if (!item) throw new AppException(404, 'item_not_found', `No item with id "${id}".`);
    return toDto(item);
  }

  @Delete('items/:id')
  @ApiOperation({
    summary: 'Deactivate an item (it stays in the catalogue and the logs, but is never served)',
  })
  @ApiOkResponse({ type: ItemDto })
  async deactivate(@Param('id', new ZodPipe(ItemIdSchema)) id: string) {
    const item = await this.items.deactivate(id);
    if (!item) throw new AppException(404, 'item_not_found', `No item with id "${id}".`);
    return toDto(item);
  }

  // `items:import` (a custom method, as in Google's API design guide); the colon is escaped for the router.
  @Post('items\\:import')
  @HttpCode(200)
  @ApiOperation({ summary: 'Import items as NDJSON, one item per line; bad lines are reported and skipped' })
  @ApiConsumes('application/x-ndjson')
  @ApiBody({ schema: { type: 'string', example: '{"id":"a1","group":"shoes"}\n{"id":"a2"}\n' } })
  @ApiOkResponse({ type: ImportResultDto })
  async import(@Req() req: Request, @Headers('content-type') contentType: string | undefined) {
    if (typeof req.body !== 'string') {
      throw new AppException(
        415,
        'unsupported_media_type',
        `Send the items as NDJSON with Content-Type application/x-ndjson (got ${contentType ?? 'none'}).`,
      );
    }
    return this.items.importNdjson(req.body);
  }
}
