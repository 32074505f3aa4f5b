// The console's charts: ECharts' core with only what the fund-flow diagram
// needs (the Sankey series, its tooltip, the canvas renderer), so the
// bundle stays small and draws no inline styles a strict
// Content-Security-Policy would refuse.
import { init, use, getInstanceByDom } from 'echarts/core';
import { SankeyChart } from 'echarts/charts';
import { TooltipComponent, AriaComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([SankeyChart, TooltipComponent, AriaComponent, CanvasRenderer]);

export { init, getInstanceByDom };
