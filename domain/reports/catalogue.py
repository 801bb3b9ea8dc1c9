"""The report catalogue of custody-price-reports.md §4.4, as data.

A definition's id is ``<norm>/<id>``; its files are ``reports/<run id>/<norm>/<friendly_name>.<ext>``.
``kind`` says how lana-without-BigQuery produces it: ``Y`` from the bank's own data, ``C`` a constant,
``E`` a header-only file (lana emits empty placeholders), ``K`` refused until the identity fields
(DUI/NIT/passport, detailed address) exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    OWN_DATA = "Y"
    CONSTANT = "C"
    EMPTY = "E"
    IDENTITY_FIELDS = "K"


class Format(StrEnum):
    CSV = "csv"
    TXT = "txt"
    XML = "xml"


CONTENT_TYPES = {Format.CSV: "text/csv", Format.TXT: "text/plain", Format.XML: "application/xml"}


@dataclass(frozen=True)
class ReportDefinition:
    norm: str
    id: str
    friendly_name: str
    outputs: tuple[Format, ...]
    kind: Kind
    columns: tuple[str, ...]
    supports_as_of: bool = False

    @property
    def definition_id(self) -> str:
        return f"{self.norm}/{self.id}"

    @property
    def runnable(self) -> bool:
        return self.kind != Kind.IDENTITY_FIELDS

    def path(self, run_id: str, fmt: Format) -> str:
        return f"reports/{run_id}/{self.norm}/{self.friendly_name}.{fmt.value}"

    def external_id(self, run_id: str) -> str:
        return f"{run_id}_{self.norm}_{self.friendly_name}"


XML_CSV = (Format.XML, Format.CSV)
CSV_TXT = (Format.CSV, Format.TXT)
CSV = (Format.CSV,)


def _d(definition_id: str, outputs: tuple[Format, ...], kind: str, columns: str, *, as_of: bool = False,
       friendly: str | None = None) -> ReportDefinition:
    norm, rid = definition_id.split("/")
    name = friendly or (rid.split("_", 1)[1] if rid[:2].isdigit() else rid)
    return ReportDefinition(norm, rid, name, outputs, Kind(kind), tuple(columns.split()), as_of)


# Columns of the header-only (E) and identity (K) files: the regulator's field names, as lana's files have them.
_EMPTY_GUARANTEE = "num_referencia cod_cartera cod_activo identificacion_garantia tipo_garantia valor_garantia"
CATALOGUE: tuple[ReportDefinition, ...] = (
    _d("nrp_91/01_saldo_cuenta", XML_CSV, "Y", "id_codigo_cuenta nom_cuenta valor", as_of=True),
    _d("nrp_91/02_deposito_extranjero", XML_CSV, "E", "id_codigo_banco nom_banco pais categoria valor"),
    _d("nrp_91/03_dato_extracontable", XML_CSV, "E", "id_codigo_extracontable desc_extra_contable valor"),
    _d("nrp_91/04_titulo_valor_extranjero", XML_CSV, "E",
       "id_codigo_titulo_extranjero desc_tv_extranj valor_tv_extranj"),
    _d("nrp_91/05_prestamo_garantizado", XML_CSV, "E", "id_codigo_banco nom_banco pais valor"),
    _d("nrp_91/06_aval_garantizado", XML_CSV, "E", "id_codigo_banco nom_banco pais valor"),
    _d("nrp_91/07_deuda_subordinada", XML_CSV, "E", "id_codigo_deuda desc_deuda valor_deuda fecha_deuda"),
    _d("nrp_91/08_balance_proyectado", XML_CSV, "Y",
       "id_codigo_cuenta nom_cuenta enero febrero marzo abril mayo junio julio agosto septiembre octubre"
       " noviembre diciembre"),
    _d("nrp_92/01_persona", XML_CSV, "K",
       "nit_persona dui primer_apellido segundo_apellido nombre_persona tipo_persona pais_residencia"),
    _d("nrp_92/02_referencia", XML_CSV, "Y",
       "nit_deudor cod_cartera cod_activo num_referencia monto_referencia saldo_referencia saldo_vigente_k"
       " saldo_vencido_k saldo_vigente_i saldo_vencido_i tasa_interes fecha_otorgamiento fecha_vencimiento"
       " dias_mora categoria_riesgo reserva_referencia estado_credito"),
    _d("nrp_92/03_referencia_garantia", XML_CSV, "Y",
       "num_referencia cod_cartera cod_activo identificacion_garantia tipo_garantia valor_garantia"),
    _d("nrp_92/04_garantia_hipotecaria", XML_CSV, "E", _EMPTY_GUARANTEE),
    _d("nrp_92/05_garantia_fiduciaria", XML_CSV, "E", _EMPTY_GUARANTEE),
    _d("nrp_92/06_garantia_aval", XML_CSV, "E", _EMPTY_GUARANTEE),
    _d("nrp_92/07_garantia_pignorada", XML_CSV, "E", _EMPTY_GUARANTEE),
    _d("nrp_92/08_garantia_prenda", XML_CSV, "E", _EMPTY_GUARANTEE),
    _d("nrp_92/09_garantia_bono", XML_CSV, "E", _EMPTY_GUARANTEE),
    _d("nrp_92/10_garantia_fondo", XML_CSV, "E", _EMPTY_GUARANTEE),
    _d("nrp_92/11_referencia_gasto", XML_CSV, "E", "num_referencia cod_cartera cod_activo codigo_gasto tipo_gasto"
       " monto_gasto"),
    _d("nrp_92/12_referencia_unidad", XML_CSV, "E", "num_referencia cod_cartera cod_activo cod_unidad"),
    _d("nrp_92/13_referencia_cancelada", XML_CSV, "E",
       "cod_cartera cod_activo num_referencia fecha_cancelacion pago_capital pago_interes"),
    _d("nrp_92/14_socios_sociedades", XML_CSV, "E", "nit_deudor nit_socio porcentaje_participacion"),
    _d("nrp_92/15_junta_directiva", XML_CSV, "E", "nit_deudor nit_miembro cod_cargo fecha_inicial fecha_final"),
    _d("nrp_92/16_garantia_criptomonedas", XML_CSV, "Y",
       "num_referencia cod_cartera cod_activo identificacion_garantia num_criptomonedas valor_contractual"
       " valor_mercado fecha_valuacion_mercado hora_valuacion_mercado tasas_conversion monto_garantizado"
       " fecha_otorgamiento"),
    _d("nrsf_03/01_cliente", CSV_TXT, "K",
       "nit_cliente primer_apellido segundo_apellido primer_nombre segundo_nombre tipo_documento"
       " numero_documento direccion"),
    _d("nrsf_03/02_depositos", CSV_TXT, "Y",
       "numero_cuenta codigo_producto estado_cuenta fecha_apertura moneda saldo_capital saldo_congelado"
       " saldo_total"),
    _d("nrsf_03/03_documentos_clientes", CSV_TXT, "K", "nit_cliente tipo_documento numero_documento"),
    _d("nrsf_03/04_titulares", CSV_TXT, "Y", "numero_cuenta id_titular tipo_titular"),
    _d("nrsf_03/05_agencias", CSV_TXT, "E", "codigo_agencia nombre_agencia direccion municipio departamento"),
    _d("nrsf_03/06_productos", CSV_TXT, "C", "codigo_producto nombre_producto"),
    _d("nrsf_03/07_funcionarios_y_empleados", CSV_TXT, "E", "nombre_completo cargo fecha_ingreso"),
    _d("nrsf_03/08_resumen_de_depositos_garantizados", CSV_TXT, "E", "id_titular numero_cuentas saldo_garantizado"),
    _d("nrsf_03/09_ajustes", CSV_TXT, "E", "numero_cuenta fecha_ajuste monto_ajuste detalle"),
    _d("uif_07/diario_otros_medios_electronicos", CSV, "Y",
       "fecha numero_cuenta id_titular tipo_transaccion referencia monto"),
    _d("other/calculo_de_riesgo_neto", CSV, "Y",
       "id_desembolso id_linea_credito capital interes deuda_total garantia_sats valor_garantia porcentaje_riesgo"
       " riesgo_neto reserva"),
    _d("other/estado_de_cuenta_de_prestamo", CSV, "Y",
       "id_linea_credito fecha tipo transaccion capital interes comision iva monto saldo_capital saldo_interes"
       " saldo_total"),
    _d("other/historial_de_pagos", CSV, "Y",
       "id_pago id_linea_credito fecha_pago monto_pago id_obligacion tipo_obligacion monto_aplicado"),
    _d("other/listado_de_prestamos_activos", CSV, "Y",
       "id_linea_credito id_cliente fecha_activacion fecha_vencimiento monto_linea desembolsado tasa_anual"
       " saldo_total"),
    _d("other/reporte_de_cartera_de_prestamos", CSV, "Y",
       "id_linea_credito id_cliente estado fecha_activacion fecha_vencimiento monto_linea saldo_capital"
       " saldo_interes saldo_total dias_mora calificacion reserva garantia_sats cuenta_capital cuenta_interes"),
)

BY_ID: dict[str, ReportDefinition] = {d.definition_id: d for d in CATALOGUE}

# nrsf_03/06_productos: the one product lana offers
PRODUCTS = (("BTCL", "Bitcoin Loan Collateral"),)
