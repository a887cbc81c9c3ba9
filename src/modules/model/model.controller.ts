import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { ModelService } from './model.service';

class ModelInfoDto extends createZodDto(
  z.object({
    version: z.string().describe('Version of the snapshot serving now (recorded with every slate)'),
    dim: z.number().int(),
    items: z.number().int(),
    activeItems: z.number().int(),
    users: z.number().int().describe('Users with a learned vector'),
    builtAt: z.string().describe('When this snapshot was built (ISO 8601)'),
  }),
) {}

@ApiTags('model')
@Controller('v1/model')
export class ModelController {
  constructor(private readonly model: ModelService) {}

  @Get()
  @ApiOperation({ summary: 'The model serving now: version, size, build time' })
  @ApiOkResponse({ type: ModelInfoDto })
  info() {
    return this.model.info();
  }
}
