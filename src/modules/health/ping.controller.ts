import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';

@ApiTags('health')
@Controller('v1/ping')
export class PingController {
  /** The cheapest route there is: for load balancers, and the baseline of `npm run bench:http`. */
  @Get()
  @ApiOperation({ summary: 'Answers { ok: true } without touching anything' })
  ping() {
    return { ok: true };
  }
}
